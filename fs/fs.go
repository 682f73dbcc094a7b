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
	"syscall"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/nlfs/nlfs/engine"
)

// Root is the mount's root directory.
type Root struct {
	fusefs.Inode

	e *engine.Engine

	// data and views are the files the kernel may cache, kept exact by their notifiers
	// (cache.go). Set once in OnAdd.
	data  *cachedFile
	views []*cachedFile

	unsubscribe func() // immutable
}

// NewRoot makes the root of a mount of e. It follows e's events to keep the kernel's caches
// of the files exact until Close.
func NewRoot(e *engine.Engine) *Root {
	r := &Root{e: e}
	r.unsubscribe = e.Subscribe(r.changed)
	e.SetBeforeLayout(r.writeBack)
	return r
}

// writeBack returns once the pages processes stored into through mappings of view v are
// written back: dropping the whole cache writes dirty pages back first. A layout about to
// change waits for it, so that those stores land where the old layout put them. Every
// caller of a layout change may wait for a view's notifier (cache.go): the layout file's
// FLUSH and RELEASE, the web, startup.
func (r *Root) writeBack(v *engine.View) {
	for _, c := range r.views {
		if c.view == v {
			c.queueWhole()
			c.wait()
		}
	}
}

// Close stops following the engine's events and stops the notifiers.
func (r *Root) Close() {
	r.unsubscribe()
	r.e.SetBeforeLayout(nil)
	for _, c := range r.cached() {
		c.stop()
	}
}

// Engine returns the engine behind the mount.
func (r *Root) Engine() *engine.Engine { return r.e }

func (r *Root) cached() []*cachedFile {
	if r.data == nil {
		return nil
	}
	return append([]*cachedFile{r.data}, r.views...)
}

// changed queues, for each file the kernel may cache, the pages an event made stale. It runs
// inside the engine call that made the change, so it only queues (cache.go).
func (r *Root) changed(ev engine.Event) {
	switch ev.Kind {
	case engine.DataWritten, engine.ViewWritten:
		for _, c := range r.cached() {
			c.queueStore(ev.Store)
		}
	case engine.Truncated:
		// The kernel drops data's own pages after a truncate of data; an identity view
		// changed size, a pinned one shows zeros (or data again) where pages went or came.
		for _, c := range r.views {
			if c.view.Pinned() {
				c.queueStore(ev.Store)
			} else {
				c.queueWhole()
			}
		}
	case engine.LayoutApplied:
		for _, c := range r.views {
			if c.view.Name() == ev.View {
				c.queueWhole()
			}
		}
	}
}

// waitAll returns once every file's cache shows the changes made so far (see cache.go for
// who may call it).
func (r *Root) waitAll() {
	for _, c := range r.cached() {
		c.wait()
	}
}

// waitViews is waitAll for the views only: what a truncate of data may wait for.
func (r *Root) waitViews() {
	for _, c := range r.views {
		c.wait()
	}
}

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
	inoStatusJSON
)

// OnAdd builds the static tree.
func (r *Root) OnAdd(ctx context.Context) {
	add := func(name string, ino uint64, node fusefs.InodeEmbedder) *fusefs.Inode {
		ch := r.NewPersistentInode(ctx, node, fusefs.StableAttr{Mode: syscall.S_IFREG, Ino: ino})
		r.AddChild(name, ch, false)
		return ch
	}
	v := r.e.Main()
	r.data = &cachedFile{}
	r.data.inode = add("data", inoData, &dataNode{root: r, c: r.data})
	add("layout", inoLayout, &layoutNode{root: r, v: v})
	mainView := &cachedFile{view: v}
	mainView.inode = add("view", inoView, &viewNode{root: r, v: v, c: mainView})
	r.views = append(r.views, mainView)
	gen := func(text func() []byte) *generatedNode {
		return &generatedNode{gen: text, mode: 0o444, mtime: r.e.Mounted()}
	}
	add("map", inoMap, gen(v.MapText))
	add("map.svg", inoMapSVG, gen(v.MapSVG))
	add("vmas", inoVMAs, gen(v.VMAsText))
	add("status", inoStatus, gen(v.StatusText))
	add("status.json", inoStatusJSON, gen(v.StatusJSON))
	for _, c := range r.cached() {
		c.start()
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
		// The root is inode 1, as FUSE numbers it (go-fuse would report 0).
		RootStableAttr: &fusefs.StableAttr{Ino: 1},
		EntryTimeout:   &entry,
		AttrTimeout:    &attr,
		Logger:         logger,
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
	srv, err := fuse.NewServer(&rawFS{RawFileSystem: fusefs.NewNodeFS(root, opts), root: root}, dir, &opts.MountOptions)
	if err != nil {
		root.Close()
		return nil, nil, fmt.Errorf("mount %s: %w", dir, err)
	}
	go srv.Serve()
	if err := srv.WaitMount(); err != nil {
		// The serve loop ends by itself once the mount is gone.
		root.Close()
		return nil, nil, fmt.Errorf("mount %s: %w", dir, err)
	}
	return srv, root, nil
}
