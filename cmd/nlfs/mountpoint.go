package main

import (
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

	"github.com/nlfs/nlfs/internal/procstat"
	"golang.org/x/sys/unix"
)

// prepareMountpoint checks that mnt can take a new mount: an empty directory, not a live
// mountpoint, and FUSE usable. A mountpoint left dead by a killed daemon is detached first,
// and note tells the user. A FUSE mount there is asked whether it answers by a probe
// (probeMount) before anything in this process looks at it: a stat of the mount of a daemon
// that does not answer would never return.
func prepareMountpoint(mnt string, note func(string)) error {
	if m, ok := mountAt(mnt); ok && isFUSE(m.FSType) {
		switch state, _ := probeMount(mnt); state {
		case mountDead:
			if err := detach(mnt); err != nil {
				return mountpointErrorf("%s was left dead by a killed daemon and could not be recovered: %v", quote(mnt), err)
			}
			note(fmt.Sprintf("recovered %s, left dead by a killed daemon", quote(mnt)))
		case mountWedged:
			return &exitError{exitDaemon, errors.New(wedgedMessage(mnt, findDaemon(mnt)))}
		default:
			return mountpointErrorf("%s is already a mountpoint (%s); unmount it first (nlfs umount %s)", quote(mnt), m.FSType, quote(mnt))
		}
	}
	fi, err := os.Stat(mnt)
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

func isFUSE(fstype string) bool { return fstype == "fuse" || strings.HasPrefix(fstype, "fuse.") }

// A mount's state, as a probe finds it.
type mountState int

const (
	mountLive   mountState = iota // its daemon answered (or the probe could not tell)
	mountDead                     // no daemon serves it any more
	mountWedged                   // its daemon did not answer within probeTimeout
)

// probeTimeout is how long a probe waits for a daemon's answer: a live daemon answers a
// statfs in microseconds, even while it applies a layout of a million pages.
const probeTimeout = 3 * time.Second

// probeCommand is the argument that makes nlfs the probe itself (probeChild), never a
// command a user types.
const probeCommand = "--probe-mount"

// probeMount asks the FUSE mount at mnt for statfs, which always reaches its daemon, from a
// child process, and waits at most probeTimeout. A process that asks a daemon that does not
// answer (stopped, or stuck in the kernel) blocks in the kernel, where not even SIGTERM
// reaches a Go program, and once the daemon has read the request not even SIGKILL: so nlfs
// never asks from its own process. A child that does not answer is killed, which frees it
// unless the daemon took its request (it is then freed when the connection is aborted:
// nlfs umount --force). err is what statfs said.
func probeMount(mnt string) (mountState, error) {
	// This very program, even if its file was replaced since it started.
	cmd := exec.Command("/proc/self/exe", probeCommand, mnt)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		return mountLive, err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(probeTimeout):
		cmd.Process.Kill()
		return mountWedged, nil
	}
	errno, err := strconv.Atoi(strings.TrimSpace(out.String()))
	if err != nil {
		return mountLive, fmt.Errorf("probe of %s: %q", quote(mnt), out.String())
	}
	if errno == 0 {
		return mountLive, nil
	}
	statErr := syscall.Errno(errno)
	if deadMount(mnt, statErr) {
		return mountDead, statErr
	}
	return mountLive, statErr
}

// probeChild is the probe process: it prints the errno of statfs on mnt (0: it answered).
func probeChild(mnt string) int {
	var st unix.Statfs_t
	err := unix.Statfs(mnt, &st)
	errno, _ := err.(syscall.Errno)
	fmt.Println(int(errno))
	return 0
}

// wedgedMessage says that the daemon pid (0: not known) of mnt does not answer, and what to do.
func wedgedMessage(mnt string, pid int) string {
	who, why := "the daemon serving "+quote(mnt), "stopped, or stuck in the kernel"
	if pid != 0 {
		who += fmt.Sprintf(" (pid %d)", pid)
		why = processState(pid)
	}
	return fmt.Sprintf("%s does not answer (%s); end it and its mount with: nlfs umount --force %s", who, why, quote(mnt))
}

// processState says what process pid is doing, from /proc/PID/stat, as far as it explains a
// daemon that does not answer.
func processState(pid int) string {
	if f := procstat.Fields(pid); len(f) > 0 {
		switch f[0] {
		case "T":
			return fmt.Sprintf("it is stopped: kill -CONT %d resumes it", pid)
		case "t":
			return "it is stopped by a debugger"
		case "D":
			return "it waits in the kernel"
		}
	}
	return "busy, or stuck in the kernel"
}

// deadMount tells whether the error of a probe of mnt means the FUSE daemon behind it is
// gone: killed (ENOTCONN), its connection aborted through /sys/fs/fuse/connections
// (ECONNABORTED), or, as the kernel sometimes answers right after the daemon died, EIO from a
// FUSE mount that no nlfs daemon serves.
func deadMount(mnt string, err error) bool {
	switch {
	case errors.Is(err, syscall.ENOTCONN), errors.Is(err, syscall.ECONNABORTED):
		return true
	case errors.Is(err, syscall.EIO):
		m, ok := mountAt(mnt)
		return ok && isFUSE(m.FSType) && findDaemon(mnt) == 0
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
// once the last process using it lets go. It asks nothing of the file system: umount2 looks
// the mountpoint up without revalidating it, so it returns whatever the daemon does.
func detach(mnt string) error {
	if os.Geteuid() == 0 {
		return unix.Unmount(mnt, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW)
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
