package fs

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/moby/sys/mountinfo"
	"github.com/nlfs/nlfs/internal/procstat"
)

// What /proc tells of the process a request comes from: whether the layout file it closes a
// copy of is still held in its family (heldInFamily), whether it is dying of a signal
// (killed), and whether it may see physical frame numbers (privileged).

// When is the layout file closed for good? Every close(2) of every descriptor sends a FLUSH,
// and a shell closes copies of a file it still holds: `echo … >&3` duplicates descriptor 3
// onto 1 and closes that copy when the command is done; `{ …; } > layout` closes the
// descriptor it first opened once it is duplicated, and every command it forks closes its
// inherited copy when it exits, while the shell still holds the file. A FLUSH after which the
// closing process, or one of its ancestors, still holds the same open file is the close of one
// copy among several; /proc tells them apart.

// mountAt returns what /proc/self/mountinfo says of the mount at dir, nil if nothing.
func mountAt(dir string) *mountinfo.Info {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil
	}
	ms, err := mountinfo.GetMounts(mountinfo.SingleEntryFilter(abs))
	if err != nil || len(ms) == 0 {
		return nil
	}
	return ms[len(ms)-1] // the last one is on top
}

// maxAncestors bounds the walk up a closing process's parents.
const maxAncestors = 16

// heldInFamily reports whether process pid or one of its ancestors (up to init, or
// maxAncestors) has a descriptor of the same open file: open for writing on inode ino of mount
// mnt, at offset pos (the bytes the session took: the open file's offset, which all its copies
// share — a descriptor of another open of the file, a reader or another writer of another
// length, does not count). A FLUSH is sent after the descriptor being closed has left its
// process's table, so a descriptor found there is another one. It answers false when it
// cannot tell (no /proc entry: another PID namespace; no mount ID).
func heldInFamily(pid uint32, mnt, ino uint64, pos int64) bool {
	if mnt == 0 {
		return false
	}
	for range maxAncestors {
		if pid <= 1 {
			return false
		}
		if holds(pid, mnt, ino, pos) {
			return true
		}
		pid = parentOf(pid)
	}
	return false
}

// holds reports whether process pid has a descriptor as heldInFamily describes.
func holds(pid uint32, mnt, ino uint64, pos int64) bool {
	dir := procDir(pid) + "/fdinfo"
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, ent := range ents {
		info, err := os.ReadFile(filepath.Join(dir, ent.Name()))
		if err == nil && procField(info, "mnt_id", 10) == mnt && procField(info, "ino", 10) == ino &&
			procField(info, "flags", 8)&(syscall.O_WRONLY|syscall.O_RDWR) != 0 && procField(info, "pos", 10) == uint64(pos) {
			return true
		}
	}
	return false
}

func procDir(pid uint32) string { return "/proc/" + strconv.FormatUint(uint64(pid), 10) }

// statFields returns the fields of /proc/PID/stat after the command name: fields[0] is the
// state, field N of proc(5) is fields[N-3]. Nil if unreadable.
func statFields(pid uint32) []string { return procstat.Fields(int(pid)) }

// parentOf returns the parent of process pid (0 if unknown).
func parentOf(pid uint32) uint32 {
	f := statFields(pid)
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.ParseUint(f[1], 10, 32) // field 4
	return uint32(ppid)
}

// pfExiting is the kernel's PF_EXITING, in field 9 (flags) of /proc/PID/stat.
const pfExiting = 0x4

// killed reports whether process pid is exiting because a signal killed it: the close of its
// descriptors is then not its own doing, and what it was writing may be cut anywhere. The
// kernel sets the exit code (field 52: a signal number, or an exit status shifted left by 8)
// before it closes a dying process's files.
func killed(pid uint32) bool {
	f := statFields(pid)
	if len(f) < 50 {
		return false
	}
	flags, _ := strconv.ParseUint(f[6], 10, 64) // field 9
	code, _ := strconv.ParseUint(f[49], 10, 64) // field 52
	return flags&pfExiting != 0 && code&0x7f != 0
}

// procField returns the value of a numeric field of an fdinfo file ("key:\tvalue" lines,
// in base), or 0.
func procField(info []byte, key string, base int) uint64 {
	sc := bufio.NewScanner(bytes.NewReader(info))
	for sc.Scan() {
		k, v, ok := bytes.Cut(sc.Bytes(), []byte(":"))
		if ok && string(k) == key {
			n, _ := strconv.ParseUint(string(bytes.TrimSpace(v)), base, 64)
			return n
		}
	}
	return 0
}

// capSysAdmin is CAP_SYS_ADMIN's bit in /proc/PID/status's CapEff.
const capSysAdmin = 21

// privileged reports whether the process a request comes from may see physical frame
// numbers, as the kernel would let it read them from a pagemap: CAP_SYS_ADMIN in its
// effective set, in the daemon's own user namespace (a container's root has it only in its
// own). When it cannot tell (no /proc entry: another PID namespace), it answers false.
func privileged(pid uint32) bool {
	if pid == 0 {
		return false
	}
	proc := procDir(pid)
	status, err := os.ReadFile(proc + "/status")
	if err != nil || procField(status, "CapEff", 16)&(1<<capSysAdmin) == 0 {
		return false
	}
	theirs, err1 := os.Readlink(proc + "/ns/user")
	ours, err2 := os.Readlink("/proc/self/ns/user")
	return err1 == nil && err2 == nil && theirs == ours
}
