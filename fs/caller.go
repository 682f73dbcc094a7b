package fs

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/moby/sys/mountinfo"
)

// What /proc tells of the process a request comes from: whether it still holds the layout file
// it closes a copy of (holdsOther), and whether it may see physical frame numbers
// (privileged).

// When does a process close the layout file? Every close(2) of every descriptor sends a
// FLUSH, and a shell closes descriptors of the file it still holds: `echo … >&3` duplicates
// descriptor 3 onto 1 and closes that copy when the command is done, and `{ …; } > layout`
// closes the descriptor it first opened once it is duplicated. A FLUSH from a process that
// still holds another descriptor of the same file is the close of one copy among several,
// not the process closing the file; /proc tells them apart (holdsOther).

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

// holdsOther reports whether process pid has another descriptor of the same open file: open
// for writing on inode ino of mount mnt, at offset pos (the bytes the session took: the open
// file's offset, which its copies share — a descriptor of another open of the file, a reader
// or another writer of another length, does not count). A FLUSH is sent after the descriptor
// being closed has left its process's table, so any descriptor found is another one. It
// answers false when it cannot tell (no /proc entry for pid: another PID namespace, an
// exiting process; no mount ID).
func holdsOther(pid uint32, mnt, ino uint64, pos int64) bool {
	if pid == 0 || mnt == 0 {
		return false
	}
	dir := "/proc/" + strconv.FormatUint(uint64(pid), 10) + "/fdinfo"
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

// fdinfoField returns the value of a numeric field of an fdinfo file ("key:\tvalue" lines,
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
	proc := "/proc/" + strconv.FormatUint(uint64(pid), 10)
	status, err := os.ReadFile(proc + "/status")
	if err != nil || procField(status, "CapEff", 16)&(1<<capSysAdmin) == 0 {
		return false
	}
	theirs, err1 := os.Readlink(proc + "/ns/user")
	ours, err2 := os.Readlink("/proc/self/ns/user")
	return err1 == nil && err2 == nil && theirs == ours
}
