// Package fs is the nlfs FUSE node tree: the files data, layout, view, map,
// map.svg, vmas and status over one remapper.Mapper. It makes no syscalls of
// its own: store and view live in package remapper, the layout language in
// package layout; this package binds them to go-fuse and maps errors to errno
// in one place (errno.go).
package fs

import (
	"context"
	"fmt"
	"log"
	"os"
	"sync"
	"syscall"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/nlfs/nlfs/layout"
	"github.com/nlfs/nlfs/remapper"
)

// Options configure a Root.
type Options struct {
	// Pages is the initial store size in pages, used when Source is nil.
	Pages int64
	// Source, if non-nil, is the initial content of data (its exact size).
	Source []byte
	// Layout, if non-nil, is the initial layout text.
	Layout []byte
	// Backend selects how the view is mapped.
	Backend remapper.Backend
	// MaxViewPages bounds every layout; 0 means layout.DefaultMaxViewPages.
	MaxViewPages int64
}

// Root is the mount's root directory. It owns the mapper and the state that
// the control files report.
//
// Lock order: applyMu, then mu; remapper.Mapper's own locks are taken with
// either held, never the other way round. Kernel notifications
// (Inode.NotifyContent) are sent with no lock held, since the kernel may
// call back into the file system while it invalidates.
type Root struct {
	fusefs.Inode

	m            *remapper.Mapper
	maxViewPages int64

	// applyMu serializes layout changes so that generation and lastError
	// describe the layout actually in force.
	applyMu sync.Mutex

	mu sync.Mutex
	// pinned is the layout in force, nil for the identity that follows
	// the store. Protected by mu.
	pinned *layout.Layout
	// canonical caches the canonical text of pinned (nil until asked).
	// Protected by mu.
	canonical []byte
	// generation counts layouts applied. Protected by mu.
	generation int64
	// lastError is the most recent failure reported to a writer, or "".
	// Protected by mu.
	lastError string

	// The file inodes, set once in OnAdd; used to invalidate kernel caches.
	data, view *fusefs.Inode
}

// New makes a Root with its store filled and its initial layout applied.
func New(opts Options) (*Root, error) {
	m, err := remapper.New(remapper.Options{Backend: opts.Backend})
	if err != nil {
		return nil, err
	}
	r := &Root{m: m, maxViewPages: opts.MaxViewPages}
	if r.maxViewPages == 0 {
		r.maxViewPages = layout.DefaultMaxViewPages
	}
	if err := r.fill(opts); err != nil {
		m.Close()
		return nil, err
	}
	return r, nil
}

func (r *Root) fill(opts Options) error {
	if opts.Source != nil {
		if _, err := r.m.WriteData(opts.Source, 0); err != nil {
			return fmt.Errorf("load source: %w", err)
		}
	} else if err := r.m.Truncate(opts.Pages * remapper.PageSize()); err != nil {
		return fmt.Errorf("size store: %w", err)
	}
	if opts.Layout == nil {
		return nil
	}
	l, err := layout.Parse(opts.Layout, r.limits())
	if err != nil {
		return err
	}
	return r.apply(l)
}

// Close releases the store and the view.
func (r *Root) Close() error { return r.m.Close() }

// Mapper gives tests and tools the mapper behind the mount.
func (r *Root) Mapper() *remapper.Mapper { return r.m }

var _ = (fusefs.NodeOnAdder)((*Root)(nil))

// Inode numbers are fixed so that debug traces stay readable.
const (
	inoData = 2 + iota
	inoLayout
	inoView
	inoMap
	inoMapSVG
	inoVMAs
	inoStatus
)

// OnAdd builds the static tree.
func (r *Root) OnAdd(ctx context.Context) {
	add := func(name string, ino uint64, node fusefs.InodeEmbedder) *fusefs.Inode {
		ch := r.NewPersistentInode(ctx, node, fusefs.StableAttr{Mode: syscall.S_IFREG, Ino: ino})
		r.AddChild(name, ch, false)
		return ch
	}
	r.data = add("data", inoData, &dataNode{root: r})
	add("layout", inoLayout, &layoutNode{root: r})
	r.view = add("view", inoView, &viewNode{root: r})
	add("map", inoMap, &generatedNode{gen: r.renderMap})
	add("map.svg", inoMapSVG, &generatedNode{gen: r.renderSVG})
	add("vmas", inoVMAs, &generatedNode{gen: r.renderVMAs})
	add("status", inoStatus, &generatedNode{gen: r.renderStatus})
}

// limits are the bounds a layout written now is checked against.
func (r *Root) limits() layout.Limits {
	return layout.Limits{DataPages: r.m.DataPages(), MaxViewPages: r.maxViewPages}
}

// apply puts l in force. On failure the previous layout stays and the error
// is recorded for status.
func (r *Root) apply(l *layout.Layout) error {
	err := r.applyLocked(l)
	r.noteResult(err)
	if err == nil {
		r.invalidateView()
	}
	return err
}

func (r *Root) applyLocked(l *layout.Layout) error {
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	if err := l.Check(r.m.DataPages()); err != nil {
		return err
	}
	var err error
	if l.Identity {
		err = r.m.ApplyIdentity()
	} else {
		err = r.m.Apply(toRemapperRuns(l.Runs))
	}
	if err != nil {
		return fmt.Errorf("apply layout: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pinned, r.canonical = l, nil
	if l.Identity {
		r.pinned = nil
	}
	r.generation++
	return nil
}

// noteResult records the outcome of a layout write for status: a failure
// until the next layout is applied.
func (r *Root) noteResult(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.lastError = "layout: " + err.Error()
	} else {
		r.lastError = ""
	}
}

// noteError records a failure of a data or view operation for status.
func (r *Root) noteError(what string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lastError = what + ": " + err.Error()
}

// layoutText is the canonical text of the layout in force.
func (r *Root) layoutText() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pinned == nil {
		return []byte(layout.Canonical(toLayoutRuns(r.m.Runs())))
	}
	if r.canonical == nil {
		r.canonical = layout.AppendCanonical(nil, r.pinned.Runs)
	}
	return r.canonical
}

// invalidateView drops what the kernel caches of view (pages of processes
// that mmap it). Must be called with no lock held.
func (r *Root) invalidateView() { notify(r.view) }

// invalidateData is the same for data.
func (r *Root) invalidateData() { notify(r.data) }

func notify(n *fusefs.Inode) {
	if n == nil {
		return
	}
	// ENOENT means the kernel holds nothing of the file: nothing to drop.
	if errno := n.NotifyContent(0, 0); errno != 0 && errno != syscall.ENOENT {
		log.Printf("nlfs: invalidate cache: %v", errno)
	}
}

func toRemapperRuns(in []layout.Run) []remapper.Run {
	out := make([]remapper.Run, len(in))
	for i, r := range in {
		out[i] = remapper.Run(r)
	}
	return out
}

func toLayoutRuns(in []remapper.Run) []layout.Run {
	out := make([]layout.Run, len(in))
	for i, r := range in {
		out[i] = layout.Run(r)
	}
	return out
}

// MountOptions are how a Root is mounted.
type MountOptions struct {
	AllowOther bool
	Debug      bool
	// Logger receives go-fuse diagnostics; nil means stderr.
	Logger *log.Logger
	// PanicHandler, if set, turns a handler panic into a reply (tests fail
	// the test there).
	PanicHandler func(any) fuse.Status
}

// Mount serves r at dir and returns once the kernel has the mount.
func Mount(dir string, r *Root, mo MountOptions) (*fuse.Server, error) {
	logger := mo.Logger
	if logger == nil {
		logger = log.New(os.Stderr, "nlfs: ", 0)
	}
	entry := time.Second
	attr := time.Duration(0) // sizes of data, view, layout and status change at any time
	opts := &fusefs.Options{
		EntryTimeout: &entry,
		AttrTimeout:  &attr,
		Logger:       logger,
		MountOptions: fuse.MountOptions{
			FsName:        "nlfs",
			Name:          "nlfs",
			AllowOther:    mo.AllowOther,
			Debug:         mo.Debug,
			Logger:        logger,
			DisableXAttrs: true,
			MaxWrite:      fuse.MAX_KERNEL_WRITE,
			// O_TRUNC arrives with OPEN instead of as a separate SETATTR
			// without a handle, so `> layout` and `cp f data` are one step;
			// mmap of the direct-IO view and data is allowed (kernel ≥ 6.6).
			ExtraCapabilities: fuse.CAP_ATOMIC_O_TRUNC | fuse.CAP_DIRECT_IO_ALLOW_MMAP,
			PanicHandler:      mo.PanicHandler,
		},
	}
	if mo.AllowOther {
		opts.MountOptions.Options = append(opts.MountOptions.Options, "default_permissions")
	}
	if os.Geteuid() == 0 {
		opts.MountOptions.DirectMount = true
		opts.MountOptions.DirectMountStrict = true
	}
	srv, err := fusefs.Mount(dir, r, opts)
	if err != nil {
		return nil, fmt.Errorf("mount %s: %w", dir, err)
	}
	return srv, nil
}
