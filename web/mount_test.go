package web

import (
	"bytes"
	"fmt"
	"log"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/nlfs/nlfs/engine"
	"github.com/nlfs/nlfs/fs"
)

// testMount mounts an engine made from opts on a temporary directory, in this process as the
// daemon would, and unmounts it when the test ends. The mount is driven from child processes
// (sh), never from this one: a client of the mount in the serving process can deadlock it.
func testMount(t *testing.T, opts engine.Options) (string, *engine.Engine) {
	t.Helper()
	requireFUSE(t)
	mnt := t.TempDir()
	e, err := engine.New(opts)
	if err != nil {
		t.Fatalf("engine.New: %v", err)
	}
	srv, root, err := fs.Mount(mnt, e, fs.MountOptions{
		Logger: log.New(testWriter{t}, "", 0),
		PanicHandler: func(p any) fuse.Status {
			t.Errorf("panic in FUSE handler: %v", p)
			return fuse.EIO
		},
	})
	if err != nil {
		e.Close()
		t.Fatalf("Mount: %v", err)
	}
	recordConn(t, mnt)
	t.Cleanup(func() {
		if err := srv.Unmount(); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
		srv.Wait()
		root.Close()
		e.Close()
	})
	return mnt, e
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// shTimeout is how long one shell step may take before it counts as a hang.
const shTimeout = 2 * time.Minute

// sh runs a shell command line in a child process with the mount as its working directory and
// returns its stdout, under a watchdog that aborts the mount's connection if it hangs.
func sh(t *testing.T, mnt, script string) string {
	t.Helper()
	stop := watchdog(t, mnt, shTimeout, "sh -c "+strconv.Quote(script))
	defer stop()
	// cd inside the child, never cmd.Dir: a chdir between fork and exec would ask this very
	// process (the server) for ACCESS and deadlock.
	cmd := exec.Command("bash", "-c", `cd "$1" && `+script, "bash", mnt)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("sh -c %q: %v: %s", script, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String()
}

// conns maps a test mountpoint to its FUSE connection number, read right after mounting.
var conns sync.Map

func recordConn(t testing.TB, mnt string) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(mnt, &st); err != nil {
		t.Fatalf("stat %s: %v", mnt, err)
	}
	conns.Store(mnt, unix.Minor(st.Dev))
}

// watchdog fails the test and aborts the mount's FUSE connection if stop is not called within
// d: a hang becomes a failure with a name, never a hung CI run.
func watchdog(t testing.TB, mnt string, d time.Duration, what string) (stop func()) {
	t.Helper()
	timer := time.AfterFunc(d, func() {
		err := abortMount(mnt)
		t.Errorf("HANG: %s did not finish within %v; aborted the FUSE connection (%v)", what, d, err)
	})
	return func() { timer.Stop() }
}

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
