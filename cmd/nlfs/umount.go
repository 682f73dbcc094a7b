package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/moby/sys/mountinfo"
	"github.com/spf13/cobra"
)

func newUmountCmd() *cobra.Command {
	var lazy bool
	cmd := &cobra.Command{
		Use:     "umount [OPTION]... MOUNTPOINT",
		Aliases: []string{"unmount"},
		Short:   "unmount, also a mountpoint left dead by a killed daemon",
		Long: `Unmount the nlfs mount at MOUNTPOINT and wait for its daemon to exit. A mount
that a process still uses (an open file, a working directory) is refused,
unless --lazy. A mountpoint left dead by a killed daemon ("Transport endpoint
is not connected") is detached.`,
		Args: wantArgs("MOUNTPOINT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			mnt, err := filepath.Abs(args[0])
			if err != nil {
				return mountpointErrorf("mountpoint %s: %v", quote(args[0]), err)
			}
			return umount(mnt, lazy)
		},
		ValidArgsFunction: completeMountpoints,
	}
	switchVar(cmd.Flags(), &lazy, "lazy", "l", "detach even if busy; the mount ends when the last user lets go")
	return cmd
}

// umount unmounts mnt (lazily: detaches it) and, unless lazy, waits for its
// daemon to exit.
func umount(mnt string, lazy bool) error {
	if m, ok := mountAt(mnt); !ok {
		return mountpointErrorf("%s is not mounted", quote(mnt))
	} else if m.FSType != nlfsType {
		return mountpointErrorf("%s is not an nlfs mount (it is %s); use umount(8)", quote(mnt), m.FSType)
	}
	pid := findDaemon(mnt)
	start, _ := startTime(pid)
	_, statErr := os.Stat(mnt)
	var err error
	if lazy || deadMount(mnt, statErr) {
		err = detach(mnt)
	} else {
		err = unmount(mnt)
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
