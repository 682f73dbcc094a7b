package fs

import (
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// conns maps a test mountpoint to its FUSE connection number (the mount's device minor),
// read right after mounting: once a mount hangs, stat of it hangs too.
var conns sync.Map

func recordConn(t testing.TB, mnt string) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(mnt, &st); err != nil {
		t.Fatalf("stat %s: %v", mnt, err)
	}
	conns.Store(mnt, unix.Minor(st.Dev))
}

// abortMount aborts the FUSE connection of a test mount: every request in flight and to
// come fails at once, which frees a client stuck in the kernel on it (one in D state cannot
// even be killed). The connections are listed by fusectl, mounted here if it is not yet.
func abortMount(mnt string) error {
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

// watchdog fails the test, and aborts the mount's FUSE connection, if stop is not called
// within d: a hang becomes a failure with a name, never a hung CI run.
func watchdog(t testing.TB, mnt string, d time.Duration, what string) (stop func()) {
	t.Helper()
	var once sync.Once
	timer := time.AfterFunc(d, func() {
		once.Do(func() {
			err := abortMount(mnt)
			t.Errorf("HANG: %s did not finish within %v; aborted the FUSE connection (%v)", what, d, err)
		})
	})
	return func() { timer.Stop() }
}
