package main

// A daemon that does not answer (here: really stopped, kill -STOP) can always be removed, and
// no nlfs command waits on it: nlfs umount says so within seconds, nlfs mount refuses its
// mountpoint as quickly, --lazy detaches it without asking it anything, and --force aborts the
// connection, detaches the mount and ends the daemon, freeing every client blocked on it.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nlfs/nlfs/internal/fusetest"
	"github.com/nlfs/nlfs/internal/testenv"
)

// stoppedDaemon mounts nlfs and stops its daemon; a client (cat of status) is then blocked
// on it. The cleanup frees whatever is left: it aborts the connection and kills the daemon.
func stoppedDaemon(t *testing.T) (dir string, pid int, client *exec.Cmd) {
	t.Helper()
	dir, pid = mountDir(t, "--pages", "2")
	fusetest.RecordConn(t, dir)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the daemon stopped", 10*time.Second, func() bool { return procState(pid) == 'T' })
	client = exec.Command("cat", dir+"/status")
	if err := client.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		fusetest.AbortMount(dir)
		syscall.Kill(pid, syscall.SIGKILL)
		client.Process.Kill()
		client.Wait()
		processGone(pid, 5*time.Second)
		if isMounted(dir) {
			detach(dir)
		}
	})
	// The client's request waits for the daemon (it is not in userspace yet: the daemon
	// is stopped), so cat sleeps in the kernel.
	waitFor(t, "the client blocked on the stopped daemon", 10*time.Second, func() bool { return procState(client.Process.Pid) == 'S' })
	return dir, pid, client
}

// procState is the state letter of process pid (R, S, D, T, Z…), 0 if it is gone.
func procState(pid int) byte {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	i := bytes.LastIndexByte(stat, ')')
	if err != nil || i < 0 || i+2 >= len(stat) {
		return 0
	}
	return stat[i+2]
}

// timedNlfs runs nlfs under the watchdog of the mount at dir and returns how long it took.
func timedNlfs(t *testing.T, dir string, args ...string) (result, time.Duration) {
	t.Helper()
	stop := fusetest.Watchdog(t, dir, 30*time.Second, "nlfs "+strings.Join(args, " "))
	defer stop()
	start := time.Now()
	r := nlfs(t, "", args...)
	return r, time.Since(start)
}

// probesLeft lists the probe processes nlfs started that are still there.
func probesLeft() []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if bytes.Contains(cmdline, []byte("\x00"+probeCommand+"\x00")) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func TestStoppedDaemon(t *testing.T) {
	testenv.RequireFUSE(t)
	testenv.RequireRoot(t) // fusectl is mounted and written by root

	t.Run("umount and mount say so, then --force ends it", func(t *testing.T) {
		dir, pid, client := stoppedDaemon(t)
		r, took := timedNlfs(t, dir, "umount", dir)
		checkOneLine(t, r, exitDaemon, fmt.Sprintf("the daemon serving %s (pid %d) does not answer (it is stopped: kill -CONT %d resumes it); end it and its mount with: nlfs umount --force %s", dir, pid, pid, dir))
		if took > 10*time.Second {
			t.Errorf("nlfs umount took %v to say the daemon does not answer", took)
		}
		if !isMounted(dir) {
			t.Error("nlfs umount of a mount whose daemon does not answer unmounted it")
		}
		r, took = timedNlfs(t, dir, "mount", "--pages", "2", dir)
		checkOneLine(t, r, exitDaemon, "does not answer")
		if took > 10*time.Second {
			t.Errorf("nlfs mount took %v to refuse the mountpoint", took)
		}

		// nlfs web reads a file of the mount: it asks the daemon first, and says so too.
		r, took = timedNlfs(t, dir, "web", dir)
		checkOneLine(t, r, exitDaemon, fmt.Sprintf("the daemon serving %s (pid %d) does not answer", dir, pid))
		if took > 10*time.Second {
			t.Errorf("nlfs web took %v to say the daemon does not answer", took)
		}

		r, took = timedNlfs(t, dir, "umount", "--force", dir)
		if r.code != 0 {
			t.Fatalf("nlfs umount --force: exit %d: %s", r.code, r.stderr)
		}
		if took > 15*time.Second {
			t.Errorf("nlfs umount --force took %v", took)
		}
		if isMounted(dir) {
			t.Error("still mounted after --force")
		}
		if !processGone(pid, 0) {
			t.Errorf("daemon %d still there after --force (state %c)", pid, procState(pid))
		}
		if _, err := os.Stat(pidFile(dir)); err == nil {
			t.Error("--force left the daemon's pid file")
		}
		// The client blocked on the daemon is freed, with an error.
		done := make(chan error, 1)
		go func() { done <- client.Wait() }()
		select {
		case err := <-done:
			if err == nil {
				t.Error("the client blocked on the stopped daemon read status after all")
			}
		case <-time.After(10 * time.Second):
			t.Errorf("the client blocked on the daemon is still there after --force (state %c)", procState(client.Process.Pid))
		}
		if left := probesLeft(); len(left) > 0 {
			t.Errorf("probe processes left: %v", left)
		}
		// The directory can take a new mount at once.
		if r := nlfs(t, "", "mount", "--pages", "2", dir); r.code != 0 {
			t.Fatalf("mount after --force: exit %d: %s", r.code, r.stderr)
		}
		if r := nlfs(t, "", "umount", dir); r.code != 0 {
			t.Fatalf("umount: exit %d: %s", r.code, r.stderr)
		}
	})

	t.Run("--lazy touches nothing of the mount", func(t *testing.T) {
		dir, pid, _ := stoppedDaemon(t)
		r, took := timedNlfs(t, dir, "umount", "--lazy", dir)
		if r.code != 0 {
			t.Fatalf("nlfs umount --lazy: exit %d: %s", r.code, r.stderr)
		}
		if took > 5*time.Second {
			t.Errorf("nlfs umount --lazy took %v", took)
		}
		if isMounted(dir) {
			t.Error("still mounted after --lazy")
		}
		if procState(pid) != 'T' {
			t.Errorf("--lazy changed the daemon: state %c", procState(pid))
		}
	})
}

// TestForceDeadMount: --force also ends a mount whose daemon is already gone (and nlfs web
// says it is gone).
func TestForceDeadMount(t *testing.T) {
	testenv.RequireRoot(t)
	dir, pid := mountDir(t, "--pages", "1")
	kill9(t, pid)
	checkOneLine(t, nlfs(t, "", "web", dir), exitMountpoint, "no daemon serves "+dir+" any more (it was killed); remove the mount with: nlfs umount "+dir)
	if r := nlfs(t, "", "umount", "--force", dir); r.code != 0 || isMounted(dir) {
		t.Errorf("--force of a dead mount: exit %d, %s; mounted after: %v", r.code, r.stderr, isMounted(dir))
	}
}

// TestUmountFlags: --lazy and --force are one or the other.
func TestUmountFlags(t *testing.T) {
	checkOneLine(t, nlfs(t, "", "umount", "--lazy", "--force", t.TempDir()), exitUsage, "--lazy and --force: give one")
	checkOneLine(t, nlfs(t, "", "umount", "--force", t.TempDir()), exitMountpoint, "is not mounted")
}
