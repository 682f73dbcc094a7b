package web

import (
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
