package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// prepareMountpoint checks that mnt can take a new mount: an empty
// directory, not a live mountpoint. A mountpoint left dead by a killed
// daemon is detached first, and note tells the user.
func prepareMountpoint(mnt string, note func(string)) error {
	fi, err := os.Stat(mnt)
	if deadMount(mnt, err) {
		if err := detach(mnt); err != nil {
			return mountpointErrorf("%s was left dead by a killed daemon and could not be recovered: %v", mnt, err)
		}
		note(fmt.Sprintf("recovered %s, left dead by a killed daemon", mnt))
		fi, err = os.Stat(mnt)
	}
	switch {
	case errors.Is(err, os.ErrNotExist):
		return mountpointErrorf("mountpoint %s does not exist: create it first (mkdir -p %s)", mnt, mnt)
	case err != nil:
		return mountpointErrorf("mountpoint %s: %v", mnt, unwrapPath(err))
	case !fi.IsDir():
		return mountpointErrorf("mountpoint %s is not a directory", mnt)
	}
	if m, ok := mountAt(mnt); ok {
		return mountpointErrorf("%s is already a mountpoint (%s); unmount it first (nlfs umount %s)", mnt, m.fstype, mnt)
	}
	if names, err := readDirNames(mnt, 1); err != nil {
		return mountpointErrorf("mountpoint %s: %v", mnt, unwrapPath(err))
	} else if len(names) > 0 {
		return mountpointErrorf("mountpoint %s is not empty (it holds %s); use an empty directory", mnt, names[0])
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return mountErrorf("no /dev/fuse on this machine, so nothing can be mounted (in a container: --device /dev/fuse --cap-add SYS_ADMIN); nlfs apply works without it")
	}
	if os.Geteuid() != 0 && fusermount() == "" {
		return mountErrorf("mounting as a non-root user needs fusermount3: install the fuse3 package (apt-get install fuse3), or run as root")
	}
	return nil
}

func readDirNames(dir string, n int) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(n)
	if err == io.EOF {
		err = nil
	}
	return names, err
}

// deadMount tells whether stat's error on mnt means the FUSE daemon behind
// it is gone: killed (ENOTCONN), its connection aborted through
// /sys/fs/fuse/connections (ECONNABORTED), or — as the kernel sometimes
// answers right after the daemon died — EIO from a FUSE mount that no nlfs
// daemon serves.
func deadMount(mnt string, err error) bool {
	switch {
	case errors.Is(err, syscall.ENOTCONN), errors.Is(err, syscall.ECONNABORTED):
		return true
	case errors.Is(err, syscall.EIO):
		m, ok := mountAt(mnt)
		return ok && strings.HasPrefix(m.fstype, "fuse") && findDaemon(mnt) == 0
	}
	return false
}

// fusermount finds the setuid helper that mounts and unmounts for users.
func fusermount() string {
	for _, name := range []string{"fusermount3", "fusermount"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// detach unmounts mnt lazily: it disappears now, the kernel ends the mount
// once the last process using it lets go.
func detach(mnt string) error {
	if os.Geteuid() == 0 {
		return unix.Unmount(mnt, unix.MNT_DETACH)
	}
	return runFusermount("-u", "-z", mnt)
}

// unmount unmounts mnt, failing with EBUSY if a process still uses it.
func unmount(mnt string) error {
	if os.Geteuid() == 0 {
		return unix.Unmount(mnt, 0)
	}
	return runFusermount("-u", mnt)
}

func runFusermount(args ...string) error {
	fm := fusermount()
	if fm == "" {
		return errors.New("fusermount3 not found: install the fuse3 package (apt-get install fuse3)")
	}
	out, err := exec.Command(fm, args...).CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if strings.Contains(msg, "busy") {
			return syscall.EBUSY
		}
		if msg == "" {
			msg = err.Error()
		}
		return errors.New(msg)
	}
	return nil
}

func umountCmd(args []string) error {
	fset := newFlagSet("umount", "[--lazy] MOUNTPOINT")
	lazy := fset.Bool("lazy", false, "detach even if busy; the mount ends when the last user lets go")
	pos, err := parseArgs(fset, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fset, pos, "MOUNTPOINT"); err != nil {
		return err
	}
	mnt, err := filepath.Abs(pos[0])
	if err != nil {
		return mountpointErrorf("mountpoint %s: %v", pos[0], err)
	}
	if _, ok := mountAt(mnt); !ok {
		return mountpointErrorf("%s is not mounted", mnt)
	}
	pid := findDaemon(mnt)
	_, statErr := os.Stat(mnt)
	dead := deadMount(mnt, statErr)
	if *lazy || dead {
		err = detach(mnt)
	} else {
		err = unmount(mnt)
	}
	if errors.Is(err, syscall.EBUSY) {
		return mountpointErrorf("%s is busy: a process has a file or its working directory there; close it, or use nlfs umount --lazy %s", mnt, mnt)
	}
	if err != nil {
		return mountpointErrorf("unmount %s: %v", mnt, err)
	}
	if pid > 0 && !*lazy {
		waitExit(pid, 5*time.Second)
	}
	return nil
}

// waitExit waits until process pid is gone or the timeout passes, so that
// `nlfs umount` returns with the daemon's work finished.
func waitExit(pid int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && zombie(st) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func zombie(stat []byte) bool {
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}

// mountEntry is what /proc/self/mountinfo says of one mountpoint.
type mountEntry struct{ point, fstype string }

// mountAt reports the mount whose mountpoint is exactly path, if any.
func mountAt(path string) (mountEntry, bool) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return mountEntry{}, false
	}
	defer f.Close()
	var found mountEntry
	ok := false
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if len(fields) < 5 || sep < 0 || sep+1 >= len(fields) {
			continue
		}
		if unescapeMountinfo(fields[4]) == path {
			// The last entry wins: it is the one on top.
			found, ok = mountEntry{point: path, fstype: fields[sep+1]}, true
		}
	}
	return found, ok
}

// unescapeMountinfo undoes the kernel's octal escapes (\040 for a space).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// findDaemon finds the nlfs daemon serving mnt from the command lines in
// /proc (the daemon's names its mountpoint last); 0 if none.
func findDaemon(mnt string) int {
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + d.Name() + "/cmdline")
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimSuffix(string(cmdline), "\x00"), "\x00")
		if len(args) >= 3 && strings.Contains(filepath.Base(args[0]), "nlfs") &&
			args[1] == "mount" && args[len(args)-1] == mnt {
			return pid
		}
	}
	return 0
}
