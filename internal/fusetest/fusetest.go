// Package fusetest is what the tests that mount nlfs in their own process share (package fs's,
// package web's): a test mount, a watchdog that turns a client hung in the kernel into a named
// failure by aborting the mount's FUSE connection, and shell clients run in child processes.
// It does not import package fs, so that package fs's own tests can use it: they pass fs.Mount
// in (Mount).
package fusetest

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
	"github.com/nlfs/nlfs/internal/fusectl"
	"github.com/nlfs/nlfs/internal/testenv"
)

// Options are what a test mount is served with: fs.MountOptions' fields of the same names.
type Options struct {
	Debug        bool
	Logger       *log.Logger
	PanicHandler func(any) fuse.Status
}

// MountFunc serves e at mnt with o, as fs.Mount does, and returns the server and what to do
// once it has stopped: close the root, and check it.
type MountFunc func(mnt string, e *engine.Engine, o Options) (srv *fuse.Server, stopped func(), err error)

// Mount mounts an engine made from opts on a temporary directory with mount, in this process
// as the daemon would, and unmounts it when the test ends. The mount is driven from child
// processes (Sh), never from this one: a client of the mount in the serving process can
// deadlock it. FUSE traces go to the test log with NLFS_TEST_DEBUG=1; a panic in a handler
// fails the test, and so does a read reply that went by splice (see spliceCheck).
func Mount(t *testing.T, opts engine.Options, mount MountFunc) (string, *engine.Engine) {
	t.Helper()
	testenv.RequireFUSE(t)
	mnt := t.TempDir()
	e, err := engine.New(opts)
	if err != nil {
		t.Fatalf("engine.New: %v", err)
	}
	srv, stopped, err := mount(mnt, e, Options{
		Debug:  os.Getenv("NLFS_TEST_DEBUG") == "1",
		Logger: log.New(spliceCheck{t}, "", 0),
		PanicHandler: func(p any) fuse.Status {
			t.Errorf("panic in FUSE handler: %v", p)
			return fuse.EIO
		},
	})
	if err != nil {
		e.Close()
		t.Fatalf("Mount: %v", err)
	}
	RecordConn(t, mnt)
	t.Cleanup(func() {
		if err := srv.Unmount(); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
		srv.Wait()
		stopped()
		e.Close()
	})
	return mnt, e
}

// spliceCheck writes go-fuse's log to the test log. Reads reply from slices of the mappings;
// go-fuse logging a splice attempt means a reply went the slow way (a wasted pipe, then a
// copy), which fails the test.
type spliceCheck struct{ t *testing.T }

func (w spliceCheck) Write(p []byte) (int, error) {
	line := strings.TrimRight(string(p), "\n")
	w.t.Log(line)
	if strings.Contains(line, "trySplice") {
		w.t.Errorf("a read reply was spliced: %s", line)
	}
	return len(p), nil
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
	return fusectl.Abort(conn.(uint32))
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
