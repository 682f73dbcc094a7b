package fs

import (
	"bytes"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/nlfs/nlfs/engine"
	"github.com/nlfs/nlfs/internal/fusetest"
)

// TestMain lets the test binary double as a client process (see client_test.go):
// clients that mmap the mount must not live in the serving process.
func TestMain(m *testing.M) {
	if name := os.Getenv(clientEnv); name != "" {
		os.Exit(runClient(name, os.Args[1:]))
	}
	os.Exit(m.Run())
}

// The shared helpers of the tests that mount nlfs in their own process (internal/fusetest).
var (
	watchdog   = fusetest.Watchdog
	abortMount = fusetest.AbortMount
	// sh runs a shell command line in a child process in the mount, under a watchdog;
	// shErr returns its failure instead.
	sh    = fusetest.Sh
	shErr = fusetest.ShErr
)

const shTimeout = fusetest.ShTimeout

// testMount mounts an engine made from opts on a temporary directory and unmounts it when the
// test ends (fusetest.Mount).
func testMount(t *testing.T, opts engine.Options) (string, *engine.Engine) {
	t.Helper()
	return fusetest.Mount(t, opts, func(mnt string, e *engine.Engine, o fusetest.Options) (*fuse.Server, func(), error) {
		srv, root, err := Mount(mnt, e, MountOptions{Debug: o.Debug, Logger: o.Logger, PanicHandler: o.PanicHandler, wrapRaw: plantable})
		if err != nil {
			return nil, nil, err
		}
		testRoots.Store(mnt, root)
		return srv, func() {
			testRoots.Delete(mnt)
			root.Close()
			if n, last := root.WaitsRefused(); n > 0 {
				t.Errorf("the wait rule refused %d waits (a request waited where it must not); the last: %s", n, last)
			}
		}, nil
	})
}

// testRoots holds the root of each test mount, by mountpoint (rootOf).
var testRoots sync.Map

// rootOf returns the root serving test mount mnt.
func rootOf(t *testing.T, mnt string) *Root {
	r, ok := testRoots.Load(mnt)
	if !ok {
		t.Fatalf("%s is not a test mount", mnt)
	}
	return r.(*Root)
}

// status parses the status file into its keys.
func status(t *testing.T, mnt string) map[string]string {
	t.Helper()
	kv := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(sh(t, mnt, "cat status")), "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			t.Fatalf("status line %q is not `key: value`", line)
		}
		kv[k] = v
	}
	return kv
}

// letters returns n pages, page i filled with 'A'+i.
func letters(n int) []byte {
	var b []byte
	for i := 0; i < n; i++ {
		b = append(b, bytes.Repeat([]byte{byte('A' + i%26)}, pageSize)...)
	}
	return b
}

// pageLetters summarizes content as one letter per page ('?' for a page
// that is not one letter repeated, '0' for zeros).
func pageLetters(b []byte) string {
	var s strings.Builder
	for off := 0; off < len(b); off += pageSize {
		p := b[off:min(off+pageSize, len(b))]
		switch {
		case bytes.Count(p, p[:1]) != len(p):
			s.WriteByte('?')
		case p[0] == 0:
			s.WriteByte('0')
		default:
			s.WriteByte(p[0])
		}
	}
	return s.String()
}
