package web

import (
	"bytes"
	"strings"
	"testing"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/nlfs/nlfs/engine"
	"github.com/nlfs/nlfs/fs"
	"github.com/nlfs/nlfs/internal/fusetest"
)

// testMount mounts an engine made from opts on a temporary directory and unmounts it when the
// test ends (fusetest.Mount).
func testMount(t *testing.T, opts engine.Options) (string, *engine.Engine) {
	t.Helper()
	return fusetest.Mount(t, opts, func(mnt string, e *engine.Engine, o fusetest.Options) (*fuse.Server, func(), error) {
		srv, root, err := fs.Mount(mnt, e, fs.MountOptions{Debug: o.Debug, Logger: o.Logger, PanicHandler: o.PanicHandler})
		if err != nil {
			return nil, nil, err
		}
		return srv, root.Close, nil
	})
}

// The shared helpers of the tests that mount nlfs in their own process (internal/fusetest).
var (
	watchdog = fusetest.Watchdog
	sh       = fusetest.Sh
)

// TestLayoutAsTheFile: GET /layout answers exactly what `cat layout` prints through the mount,
// for the main view and a named one, at the identity, pinned, with repeats and after data
// grows; and what it answers, put back, leaves the view as it was (pinned, or following data).
func TestLayoutAsTheFile(t *testing.T) {
	mnt, e := testMount(t, engine.Options{Source: bytes.NewReader(letters(4))})
	s := newServer(t, e, Options{})
	sh(t, mnt, "mkdir views/a")
	for _, c := range []struct{ name, view, file, shell string }{
		{"identity", "", "layout", ": > layout"},
		{"pinned", "", "layout", "echo 0-3 > layout"},
		{"reversed", "", "layout", "echo 3 2 1 0 > layout"},
		{"repeats", "", "layout", "echo 0-1*3 2 2 2 > layout"},
		{"identity after data grew", "", "layout", ": > layout; head -c 20480 /dev/zero > data"},
		{"named view at the identity", "a", "views/a/layout", ": > views/a/layout"},
		{"named view pinned", "a", "views/a/layout", "echo 1 1 1 > views/a/layout"},
	} {
		t.Run(c.name, func(t *testing.T) {
			sh(t, mnt, c.shell)
			q := ""
			if c.view != "" {
				q = "?view=" + c.view
			}
			v := mustView(t, e, c.view)
			pinned := v.Snapshot().Pinned
			got, want := mustGet(t, s, "/layout"+q), sh(t, mnt, "cat "+c.file)
			if got != want {
				t.Fatalf("GET /layout%s: %q, cat %s: %q", q, got, c.file, want)
			}
			if resp, body := call(t, s, "PUT", "/layout"+q, strings.NewReader(got), nil); resp.StatusCode != 204 {
				t.Fatalf("PUT back %q: %s %q", got, resp.Status, body)
			}
			if again := sh(t, mnt, "cat "+c.file); again != want || v.Snapshot().Pinned != pinned {
				t.Errorf("putting back %q: cat %s %q (pinned %v), was %q (pinned %v)", got, c.file, again, v.Snapshot().Pinned, want, pinned)
			}
		})
	}
}
