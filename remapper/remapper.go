// Package remapper is the kernel side of nlfs: the remap_file_pages wrapper, the store file,
// and the view mappings over it with their backends. No FUSE, no text parsing.
//
// A Store is one file opened read-write (a memfd, i.e. tmpfs) holding the data; its logical
// size is exact, the file under it is always a whole number of pages and the bytes past the
// logical size in the last page are zeros. A View is an address range of its own that shows
// store pages in the order given by a list of runs (run.Run); a store may have any number of
// views, as any number of processes may each map one file and remap_file_pages it. How a view
// is built depends on the backend:
//
//   - remap: one linear MAP_SHARED mapping of the store, then one remap_file_pages(2) call
//     per run that is not already in place (since Linux 4.0 each call is an mmap in disguise,
//     so every run becomes one VMA);
//   - mmap: a PROT_NONE reservation, then one mmap(MAP_SHARED|MAP_FIXED) per run; what the
//     kernel's own emulation does, for sandboxes that refuse remap_file_pages;
//   - gather: no view mapping; reads and writes go run by run through one linear mapping of
//     the store. Needed when the runs would exceed the VMA budget (vm.max_map_count minus
//     what the process holds, every view included, with room for the old and new mappings of
//     a view during a swap).
//
// Reads are lent, not copied (Store.DataSlices, View.ViewSlices): the bytes come back as
// slices of the live mappings with the store's read lock held until the Lease is released, so
// a FUSE reply is written to the kernel straight from the nonlinear mapping. The copying
// reads (ReadData, ReadView) are a lease, a copy and a release: one read path per file.
//
// All backends give byte-identical views. Store pages that a view references but that lie at
// or past the end of the store read as zeros and are never touched (touching them through a
// mapping would raise SIGBUS); so do pages never written (touching a hole through a shared
// mapping would allocate it: a sparse store stays sparse when read). Writes into pages
// already written are copied through a mapping; others go through pwrite, which allocates
// them and reports a store that cannot grow as an error. A background prefaulter maps the
// written pages of each new view into the page tables, so that a first read does not fault
// them in one by one.
//
// The files: store_linux.go (the store, its size and its writes), backend_linux.go (which
// backend serves a layout: the probe and the VMA budget), view_linux.go (building a view and
// swapping it in), io_linux.go (reads and writes through views, leases), status_linux.go
// (what the kernel holds), prefault_linux.go, frames_linux.go, kernel_linux.go (the calls a
// Store makes, which tests replace to make them fail), syscall_linux.go.
package remapper

import (
	"fmt"

	"github.com/nlfs/nlfs/run"
)

// Backend names the way a view is built.
type Backend string

// The backends. Auto picks Remap if remap_file_pages works here, else MMap, and Gather for any
// layout whose runs exceed the VMA budget.
const (
	Auto   Backend = "auto"
	Remap  Backend = "remap"
	MMap   Backend = "mmap"
	Gather Backend = "gather"
)

// ParseBackend parses a backend name as given to --backend.
func ParseBackend(s string) (Backend, error) {
	switch b := Backend(s); b {
	case Auto, Remap, MMap, Gather:
		return b, nil
	}
	return "", fmt.Errorf("unknown backend %q (want auto, remap, mmap or gather)", s)
}

// Options configure a Store.
type Options struct {
	Backend Backend // how its views are built; "" means Auto
	// Path, if set, is the store's file (normally on tmpfs); "" means a new memfd.
	Path string
	// SizeLimit bounds the memory the store may hold, in bytes (rounded up to pages), like
	// tmpfs size=: a write that needs pages beyond it writes what fits and fails with
	// ENOSPC. 0 means no bound.
	SizeLimit int64
	// Kernel makes the Store's system calls; nil means the kernel itself (LinuxKernel).
	Kernel Kernel
}

// Status describes a view in force.
type Status struct {
	Backend     Backend   // backend serving the view now (never Auto)
	Reason      string    // why that backend
	Runs        int64     // runs (mappings) the view is made of
	InForce     []run.Run // those runs, as Runs returns them: shared, never modified
	ViewPages   int64
	DataBytes   int64
	VMAs        int64   // the kernel's VMAs now covering the view address range (0 for gather)
	ViewAddr    uintptr // start of the view mapping (0 if none)
	MaxMapCount int64   // /proc/sys/vm/max_map_count
	Layouts     int64   // layouts put in force so far (State.Layouts)
}
