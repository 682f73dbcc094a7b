package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// prepareMountpoint checks that mnt can take a new mount: an empty
// directory, not a live mountpoint, and FUSE usable. A mountpoint left dead
// by a killed daemon is detached first, and note tells the user.
func prepareMountpoint(mnt string, note func(string)) error {
	fi, err := os.Stat(mnt)
	if deadMount(mnt, err) {
		if err := detach(mnt); err != nil {
			return mountpointErrorf("%s was left dead by a killed daemon and could not be recovered: %v", quote(mnt), err)
		}
		note(fmt.Sprintf("recovered %s, left dead by a killed daemon", quote(mnt)))
		fi, err = os.Stat(mnt)
	}
	switch {
	case errors.Is(err, os.ErrNotExist):
		return mountpointErrorf("mountpoint %s does not exist: create it first (mkdir -p %s)", quote(mnt), quote(mnt))
	case err != nil:
		return mountpointErrorf("mountpoint %s: %v", quote(mnt), unwrapPath(err))
	case !fi.IsDir():
		return mountpointErrorf("mountpoint %s is not a directory", quote(mnt))
	}
	if m, ok := mountAt(mnt); ok {
		return mountpointErrorf("%s is already a mountpoint (%s); unmount it first (nlfs umount %s)", quote(mnt), m.FSType, quote(mnt))
	}
	if names, err := readDirNames(mnt, 1); err != nil {
		return mountpointErrorf("mountpoint %s: %v", quote(mnt), unwrapPath(err))
	} else if len(names) > 0 {
		return mountpointErrorf("mountpoint %s is not empty (it holds %s); use an empty directory", quote(mnt), quote(names[0]))
	}
	return checkFUSE()
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
		return ok && strings.HasPrefix(m.FSType, "fuse") && findDaemon(mnt) == 0
	}
	return false
}

// fusermount finds the setuid helper that mounts and unmounts for users in
// PATH; without a PATH at all (mount(8) runs its helpers so) in /usr/bin and
// /bin, as a shell and go-fuse would.
func fusermount() string {
	for _, name := range []string{"fusermount3", "fusermount"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		for _, dir := range []string{"/usr/bin", "/bin"} {
			if p := filepath.Join(dir, name); os.Getenv("PATH") == "" && unix.Access(p, unix.X_OK) == nil {
				return p
			}
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

// absPath makes a path from the command line absolute, so that messages name
// it in full and a daemon that leaves the working directory still finds it.
func absPath(p string) (string, error) {
	if p == "" || p == "-" {
		return p, nil
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", usageErrorf("%s: %v", quote(p), err)
	}
	return abs, nil
}

// unwrapPath drops the *PathError's repetition of op and path.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
