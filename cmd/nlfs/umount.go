package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moby/sys/mountinfo"
	"github.com/nlfs/nlfs/internal/fusectl"
	"github.com/spf13/cobra"
)

func newUmountCmd() *cobra.Command {
	var lazy, force bool
	cmd := &cobra.Command{
		Use:     "umount [OPTION]... MOUNTPOINT",
		Aliases: []string{"unmount"},
		Short:   "unmount, also a mountpoint left dead by a killed daemon",
		Long: `Unmount the nlfs mount at MOUNTPOINT and wait for its daemon to exit. A mount
that a process still uses (an open file, a working directory) is refused,
unless --lazy. A mountpoint left dead by a killed daemon ("Transport endpoint
is not connected") is detached. A daemon that does not answer (stopped, or
stuck in the kernel) is reported within seconds: --lazy detaches its mount
without asking it anything, --force ends it and its mount.`,
		Args: wantArgs("MOUNTPOINT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if lazy && force {
				return usageErrorf("umount: --lazy and --force: give one")
			}
			mnt, err := filepath.Abs(args[0])
			if err != nil {
				return mountpointErrorf("mountpoint %s: %v", quote(args[0]), err)
			}
			if force {
				return umountForce(mnt)
			}
			return umount(mnt, lazy)
		},
		ValidArgsFunction: completeMountpoints,
	}
	switchVar(cmd.Flags(), &lazy, "lazy", "l", "detach even if busy or not answering; the mount ends when the last user lets go")
	switchVar(cmd.Flags(), &force, "force", "", "abort the mount's FUSE connection, detach it and end its daemon (for one that does not answer)")
	return cmd
}

// umount unmounts mnt and waits for its daemon to exit; lazily, it only detaches mnt. Nothing
// here looks at a file of the mount (a stat would hang on a daemon that does not answer): the
// mount table and the pid file say what is there, and a child process asks the daemon
// (probeMount).
func umount(mnt string, lazy bool) error {
	if _, err := nlfsMount(mnt); err != nil {
		return err
	}
	pid := findDaemon(mnt)
	start, _ := startTime(pid)
	var err error
	if lazy {
		err = detach(mnt)
	} else {
		switch state, _ := probeMount(mnt); state {
		case mountWedged:
			return &exitError{exitDaemon, errors.New(wedgedMessage(mnt, pid) + " (or detach it, leaving the daemon: nlfs umount --lazy " + quote(mnt) + ")")}
		case mountDead:
			err = detach(mnt)
		default:
			err = unmount(mnt)
		}
	}
	if errors.Is(err, syscall.EBUSY) {
		return mountpointErrorf("%s is busy: a process has a file or its working directory there; close it, or use: nlfs umount --lazy %s", quote(mnt), quote(mnt))
	}
	if err != nil {
		return mountpointErrorf("unmount %s: %v", quote(mnt), err)
	}
	if pid == 0 {
		os.Remove(pidFile(mnt)) // a killed daemon's, if any
	} else if !lazy {
		return waitExit(pid, start, mnt, 10*time.Second)
	}
	return nil
}

// nlfsMount is the nlfs mount at mnt, from the mount table.
func nlfsMount(mnt string) (*mountinfo.Info, error) {
	m, ok := mountAt(mnt)
	if !ok {
		return nil, mountpointErrorf("%s is not mounted", quote(mnt))
	} else if m.FSType != nlfsType {
		return nil, mountpointErrorf("%s is not an nlfs mount (it is %s); use umount(8)", quote(mnt), m.FSType)
	}
	// fusermount3 would refuse another user's mount with "entry not found in /etc/mtab".
	if uid, ok := mountOwner(m); ok && os.Geteuid() != 0 && uid != os.Geteuid() {
		return nil, mountpointErrorf("%s is another user's mount (uid %d): only that user or root may unmount it", quote(mnt), uid)
	}
	return m, nil
}

// mountOwner is the user a FUSE mount belongs to: its user_id option.
func mountOwner(m *mountinfo.Info) (int, bool) {
	for _, o := range strings.Split(m.VFSOptions, ",") {
		if v, ok := strings.CutPrefix(o, "user_id="); ok {
			uid, err := strconv.Atoi(v)
			return uid, err == nil
		}
	}
	return 0, false
}

// umountForce ends the mount at mnt and its daemon whatever state they are in: it aborts the
// mount's FUSE connection, which fails every request in flight and to come (and frees every
// process blocked on one), detaches the mount, and ends the daemon: SIGTERM (with SIGCONT, for
// a stopped one), then SIGKILL if it has not gone within a few seconds.
func umountForce(mnt string) error {
	m, err := nlfsMount(mnt)
	if err != nil {
		return err
	}
	pid := findDaemon(mnt)
	start, _ := startTime(pid)
	abortErr := fusectl.Abort(uint32(m.Minor))
	if err := detach(mnt); err != nil && !errors.Is(err, syscall.EINVAL) { // EINVAL: gone already
		return mountpointErrorf("unmount %s: %v", quote(mnt), err)
	}
	if pid != 0 {
		syscall.Kill(pid, syscall.SIGTERM)
		syscall.Kill(pid, syscall.SIGCONT)
		if waitExit(pid, start, mnt, 3*time.Second) != nil {
			syscall.Kill(pid, syscall.SIGKILL)
			if err := waitExit(pid, start, mnt, 5*time.Second); err != nil {
				if abortErr != nil {
					return fmt.Errorf("%v, and its FUSE connection could not be aborted: %v", err, abortErr)
				}
				return err
			}
		}
	}
	if p, err := readPidFile(mnt); err == nil && p == 0 {
		os.Remove(pidFile(mnt)) // the killed daemon's
	}
	if abortErr != nil && pid == 0 {
		return fmt.Errorf("detached %s, but no daemon is known and its FUSE connection could not be aborted: %v", quote(mnt), abortErr)
	}
	return nil
}

// waitExit waits until daemon pid, started at start, is gone, so that nlfs
// umount returns with the daemon's work finished.
func waitExit(pid int, start uint64, mnt string, timeout time.Duration) error {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if now, err := startTime(pid); err != nil || now != start {
			return nil
		}
	}
	return fmt.Errorf("unmounted %s, but its daemon (pid %d) is still running after %v", quote(mnt), pid, timeout)
}

// completeMountpoints completes a MOUNTPOINT argument with the nlfs mounts there are.
func completeMountpoints(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	var points []string
	for _, m := range mounts(func(m *mountinfo.Info) bool { return m.FSType == nlfsType }) {
		points = append(points, m.Mountpoint)
	}
	return points, cobra.ShellCompDirectiveNoFileComp
}
