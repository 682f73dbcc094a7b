// Package fusetest is what the tests that mount nlfs in their own process share (package fs's,
// package web's): the check that FUSE can be used, a watchdog that turns a client hung in the
// kernel into a named failure by aborting the mount's FUSE connection, and shell clients run
// in child processes. It imports no nlfs package, so that package fs's own tests can use it.
package fusetest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// RequireFUSE skips a test that needs /dev/fuse where there is none, unless
// NLFS_REQUIRE_FUSE=1 (as in CI), where that is a failure.
func RequireFUSE(t testing.TB) {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		if os.Getenv("NLFS_REQUIRE_FUSE") == "1" {
			t.Fatalf("NLFS_REQUIRE_FUSE=1 but /dev/fuse is unusable: %v", err)
		}
		t.Skipf("no /dev/fuse: %v", err)
	}
	if os.Geteuid() != 0 {
		if _, err := exec.LookPath("fusermount3"); err != nil {
			if os.Getenv("NLFS_REQUIRE_FUSE") == "1" {
				t.Fatal("NLFS_REQUIRE_FUSE=1 but not root and no fusermount3")
			}
			t.Skip("not root and no fusermount3 (apt-get install fuse3)")
		}
	}
}

// conns maps a test mountpoint to its FUSE connection number (the mount's device minor), read
// right after mounting: once a mount hangs, stat of it hangs too.
var conns sync.Map

// RecordConn notes the FUSE connection of the mount at mnt, right after mounting it.
func RecordConn(t testing.TB, mnt string) {
	t.Helper()
	if _, err := NoteConn(mnt); err != nil {
		t.Fatal(err)
	}
}

// NoteConn is RecordConn for code with no test at hand; it returns the connection number.
func NoteConn(mnt string) (uint32, error) {
	var st unix.Stat_t
	if err := unix.Stat(mnt, &st); err != nil {
		return 0, fmt.Errorf("stat %s: %w", mnt, err)
	}
	conns.Store(mnt, unix.Minor(st.Dev))
	return unix.Minor(st.Dev), nil
}

// AbortMount aborts the FUSE connection of a test mount: every request in flight and to come
// fails at once, which frees a client stuck in the kernel on it (one in D state cannot even be
// killed). The connections are listed by fusectl, mounted here if it is not yet.
func AbortMount(mnt string) error {
	conn, ok := conns.Load(mnt)
	if !ok {
		return fmt.Errorf("no connection recorded for %s", mnt)
	}
	const dir = "/sys/fs/fuse/connections"
	if entries, _ := os.ReadDir(dir); len(entries) == 0 {
		_ = unix.Mount("fusectl", dir, "fusectl", 0, "")
	}
	return os.WriteFile(fmt.Sprintf("%s/%d/abort", dir, conn), []byte("1"), 0)
}

// Watchdog fails the test, and aborts the mount's FUSE connection, if stop is not called
// within d: a hang becomes a failure with a name, never a hung CI run.
func Watchdog(t testing.TB, mnt string, d time.Duration, what string) (stop func()) {
	t.Helper()
	var once sync.Once
	timer := time.AfterFunc(d, func() {
		once.Do(func() {
			err := AbortMount(mnt)
			t.Errorf("HANG: %s did not finish within %v; aborted the FUSE connection (%v)", what, d, err)
		})
	})
	return func() { timer.Stop() }
}

// ShTimeout is how long one shell step of a test may take before it counts as a hang.
const ShTimeout = 2 * time.Minute

// Sh runs a shell command line in a child process with the mount as its working directory,
// as a person would, and returns its stdout. A child process keeps the kernel from blocking the
// test's own process, which serves the mount, on itself. It runs under a Watchdog.
func Sh(t *testing.T, mnt, script string) string {
	t.Helper()
	stop := Watchdog(t, mnt, ShTimeout, "sh -c "+strconv.Quote(script))
	defer stop()
	out, err := ShErr(mnt, script)
	if err != nil {
		t.Fatalf("sh -c %q: %v", script, err)
	}
	return out
}

// ShErr is Sh that returns the failure (with stderr) instead of failing, and has no watchdog.
func ShErr(mnt, script string) (string, error) {
	// cd inside the child, never cmd.Dir: a chdir between fork and exec would ask this very
	// process (the server) for ACCESS and deadlock.
	cmd := exec.Command("bash", "-c", `cd "$1" && `+script, "bash", mnt)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
