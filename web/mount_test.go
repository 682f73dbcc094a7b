package web

import (
	"log"
	"strings"
	"testing"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/nlfs/nlfs/engine"
	"github.com/nlfs/nlfs/fs"
	"github.com/nlfs/nlfs/internal/fusetest"
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

// The shared helpers of the tests that mount nlfs in their own process (internal/fusetest).
var (
	requireFUSE = fusetest.RequireFUSE
	recordConn  = fusetest.RecordConn
	watchdog    = fusetest.Watchdog
	abortMount  = fusetest.AbortMount
	sh          = fusetest.Sh
)

const shTimeout = fusetest.ShTimeout
