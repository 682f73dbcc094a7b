// Package fs is the nlfs FUSE node tree: the files data, layout, view, map,
// map.svg, vmas and status over one remapper.Mapper. It makes no syscalls of
// its own: store and view live in package remapper, the layout language in
// package layout; this package binds them to go-fuse and maps errors to errno
// in one place (errno.go).
package fs

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

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
	// SourceReader, if non-nil, is read to its end as the initial content of
	// data, in pieces (so a big file is never held in the heap whole).
	SourceReader io.Reader
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
	// pinned: a layout is in force (false: the identity that follows the
	// store). Protected by mu. Its runs are the mapper's, not kept twice.
	pinned bool
	// canonical caches the canonical text of the pinned layout (nil until
	// asked). Protected by mu.
	canonical []byte

	// viewRead and dataRead say whether a READ of view (of data) may have
	// been served since the kernel's cache of that file was last dropped.
	// Pages enter a FUSE file's page cache only through READ (for nlfs's
	// direct-IO files, by processes that mmap them), so while the flag is
	// false the kernel holds nothing that a write could make stale, and
	// the write skips the invalidation. A reader sets the flag before it
	// looks at the store; an invalidation clears it before it drops the
	// cache (a page being filled meanwhile is locked in the cache, and the
	// kernel's invalidation waits for it).
	viewRead, dataRead atomic.Bool
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
	if opts.SourceReader != nil {
		if err := r.load(opts.SourceReader); err != nil {
			return fmt.Errorf("load source: %w", err)
		}
	} else if opts.Source != nil {
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

// load writes src into the store from offset 0, a megabyte at a time.
func (r *Root) load(src io.Reader) error {
	buf := make([]byte, 1<<20)
	var off int64
	for {
		n, err := io.ReadFull(src, buf)
		if n > 0 {
			if _, werr := r.m.WriteData(buf[:n], off); werr != nil {
				return werr
			}
			off += int64(n)
		}
		switch err {
		case nil:
		case io.EOF, io.ErrUnexpectedEOF:
			return nil
		default:
			return err
		}
	}
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
		r.dropViewCache()
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
	r.pinned, r.canonical = !l.Identity, nil
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
	if r.pinned && r.canonical != nil {
		return r.canonical
	}
	text := layout.AppendCanonical(nil, toLayoutRuns(r.m.Runs()))
	if r.pinned {
		// applyLocked clears the cache under mu after the mapper has the
		// new layout, so these runs are the pinned layout's. The identity
		// follows data, so its text is never cached.
		r.canonical = text
	}
	return text
}

// dropViewCache drops whatever the kernel caches of view (pages and size
// of processes that mmap it): after a layout change or a truncate of data.
// Must be called with no lock held.
func (r *Root) dropViewCache() {
	r.viewRead.Store(false)
	notify(r.view)
}

// invalidateView drops the kernel's cache of view after a write to the
// store, unless no READ of view was served since it was last dropped (the
// usual case: nobody maps view), which saves a round trip through the
// kernel per write. Must be called with no lock held.
func (r *Root) invalidateView() {
	if r.viewRead.Swap(false) {
		notify(r.view)
	}
}

// invalidateData is the same for data.
func (r *Root) invalidateData() {
	if r.dataRead.Swap(false) {
		notify(r.data)
	}
}

// noteRead marks that a READ of a file is being served (see viewRead).
func noteRead(flag *atomic.Bool) {
	if !flag.Load() {
		flag.Store(true)
	}
}

func notify(n *fusefs.Inode) {
	if n == nil {
		return
	}
	// ENOENT means the kernel holds nothing of the file: nothing to drop.
	if errno := n.NotifyContent(0, 0); errno != 0 && errno != syscall.ENOENT {
		log.Printf("nlfs: invalidate cache: %v", errno)
	}
}

// layout.Run and remapper.Run are the same struct (the conversion below
// compiles only while their fields match, name for name and type for
// type), so a slice of one is reinterpreted as a slice of the other instead
// of copied: a million-run view is 24 MiB.
var _ = layout.Run(remapper.Run{})

func toRemapperRuns(in []layout.Run) []remapper.Run {
	return unsafe.Slice((*remapper.Run)(unsafe.Pointer(unsafe.SliceData(in))), len(in))
}

// toLayoutRuns shares in; the result must not be modified (the mapper's
// runs never are).
func toLayoutRuns(in []remapper.Run) []layout.Run {
	return unsafe.Slice((*layout.Run)(unsafe.Pointer(unsafe.SliceData(in))), len(in))
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
		// The files belong to whoever mounts (go-fuse would say root): the
		// modes then tell the truth, and with --allow-other's
		// default_permissions the owner may still write data and layout.
		UID: uint32(os.Getuid()),
		GID: uint32(os.Getgid()),
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
