// Package fs is the nlfs FUSE binding: the node types of the mount (the files data, layout,
// view, map, map.svg, vmas and status) over one engine.Engine, and the one place where an
// error becomes an errno (errno.go). Everything a file does is one engine call; this package
// adds only what FUSE itself needs: attributes, handles, replies and the kernel's caches.
package fs

import (
	"context"
	"fmt"
	"log"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/nlfs/nlfs/engine"
)

// Root is the mount's root directory.
//
// Kernel notifications (Inode.NotifyContent) are sent with no lock held, since the kernel may
// call back into the file system while it invalidates.
type Root struct {
	fusefs.Inode

	e *engine.Engine

	// viewRead and dataRead say whether a READ of view (of data) may have been served since
	// the kernel's cache of that file was last dropped. Pages enter a FUSE file's page cache
	// only through READ (for nlfs's direct-IO files, by processes that mmap them), so while
	// the flag is false the kernel holds nothing that a write could make stale, and the write
	// skips the invalidation. A reader sets the flag before it looks at the store; an
	// invalidation clears it before it drops the cache (a page being filled meanwhile is
	// locked in the cache, and the kernel's invalidation waits for it).
	viewRead, dataRead atomic.Bool

	// The file inodes, set once in OnAdd; used to invalidate kernel caches.
	data, view *fusefs.Inode

	unsubscribe func() // immutable
}

// NewRoot makes the root of a mount of e. It follows e's events to keep the kernel's caches
// of the files exact until Close.
func NewRoot(e *engine.Engine) *Root {
	r := &Root{e: e}
	r.unsubscribe = e.Subscribe(r.changed)
	return r
}

// Close stops following the engine's events.
func (r *Root) Close() { r.unsubscribe() }

// changed drops what the kernel may cache of the files an event changed.
func (r *Root) changed(ev engine.Event) {
	switch ev.Kind {
	case engine.DataWritten:
		r.invalidateView()
	case engine.ViewWritten:
		// The page written may show at other view pages too.
		r.invalidateView()
		r.invalidateData()
	case engine.Truncated, engine.LayoutApplied:
		r.dropViewCache()
	}
}

// Engine returns the engine behind the mount.
func (r *Root) Engine() *engine.Engine { return r.e }

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
	v := r.e.Main()
	r.data = add("data", inoData, &dataNode{root: r})
	add("layout", inoLayout, &layoutNode{root: r, v: v})
	r.view = add("view", inoView, &viewNode{root: r, v: v})
	add("map", inoMap, &generatedNode{gen: v.MapText})
	add("map.svg", inoMapSVG, &generatedNode{gen: v.MapSVG})
	add("vmas", inoVMAs, &generatedNode{gen: v.VMAsText})
	add("status", inoStatus, &generatedNode{gen: v.StatusText})
}

// dropViewCache drops whatever the kernel caches of view (pages and size of processes that
// mmap it): after a layout change or a truncate of data. Must be called with no lock held.
func (r *Root) dropViewCache() {
	r.viewRead.Store(false)
	notify(r.view)
}

// invalidateView drops the kernel's cache of view after a write to the store, unless no READ
// of view was served since it was last dropped (the usual case: nobody maps view), which
// saves a round trip through the kernel per write. Must be called with no lock held.
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

// MountOptions are how a Root is mounted.
type MountOptions struct {
	AllowOther bool
	Debug      bool
	// Logger receives go-fuse diagnostics; nil means stderr.
	Logger *log.Logger
	// PanicHandler, if set, turns a handler panic into a reply (tests fail the test there).
	PanicHandler func(any) fuse.Status
}

// Mount serves e at dir and returns once the kernel has the mount.
func Mount(dir string, e *engine.Engine, mo MountOptions) (*fuse.Server, *Root, error) {
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
		// The files belong to whoever mounts (go-fuse would say root): the modes then tell
		// the truth, and with --allow-other's default_permissions the owner may still write
		// data and layout.
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
			// O_TRUNC arrives with OPEN instead of as a separate SETATTR without a handle,
			// so `> layout` and `cp f data` are one step; mmap of the direct-IO view and data
			// is allowed (kernel >= 6.6).
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
	root := NewRoot(e)
	srv, err := fusefs.Mount(dir, root, opts)
	if err != nil {
		root.Close()
		return nil, nil, fmt.Errorf("mount %s: %w", dir, err)
	}
	return srv, root, nil
}
