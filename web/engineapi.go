package web

import (
	"os"

	"github.com/nlfs/nlfs/engine"
	"github.com/nlfs/nlfs/run"
)

// What this package reads of a view beyond its files' contents, in one place: the layout's
// runs with the generation they belong to, and the page size.

// snapshot returns the view's generation and its runs.
func snapshot(v *engine.View) (generation int64, runs []run.Run) {
	return v.Generation(), v.Remapper().Runs()
}

// pageSize is the page size the engine maps in: the kernel's.
func pageSize() int64 { return int64(os.Getpagesize()) }
