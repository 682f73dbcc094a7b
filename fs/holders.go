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

// When does a process close the layout file? Every close(2) of every descriptor sends a
// FLUSH, and a shell closes descriptors of the file it still holds: `echo … >&3` duplicates
// descriptor 3 onto 1 and closes that copy when the command is done, and `{ …; } > layout`
// closes the descriptor it first opened once it is duplicated. A FLUSH from a process that
// still holds another descriptor of the same file is the close of one copy among several,
// not the process closing the file; /proc tells them apart (holdsOther).

// mountID returns the kernel's ID of the mount at dir (0 if it cannot be told): the field
// mnt_id of /proc/PID/fdinfo/FD names it for every descriptor open under the mount.
func mountID(dir string) uint64 {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return 0
	}
	ms, err := mountinfo.GetMounts(mountinfo.SingleEntryFilter(abs))
	if err != nil || len(ms) == 0 {
		return 0
	}
	return uint64(ms[len(ms)-1].ID) // the last one is on top
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
		if err == nil && fdinfoField(info, "mnt_id", 10) == mnt && fdinfoField(info, "ino", 10) == ino &&
			fdinfoField(info, "flags", 8)&(syscall.O_WRONLY|syscall.O_RDWR) != 0 && fdinfoField(info, "pos", 10) == uint64(pos) {
			return true
		}
	}
	return false
}

// fdinfoField returns the value of a numeric field of an fdinfo file ("key:\tvalue" lines,
// in base), or 0.
func fdinfoField(info []byte, key string, base int) uint64 {
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
