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
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/moby/sys/mountinfo"

	"github.com/nlfs/nlfs/engine"
)

// Root is the mount's root directory.
type Root struct {
	fusefs.Inode
	noCreate
	noMkdir

	e *engine.Engine

	// reqs holds what rawFS granted the requests in flight (requests.go); refusals the waits
	// the rule refused.
	reqs     requests
	refusals waitRefusals

	// data is data's cache, kept exact by its notifier (cache.go). Set in OnAdd, before the
	// root follows the engine's events.
	data *cachedFile
	// views holds each view's view file cache, the main view's first; replaced whole
	// (copy on write) when a named view comes or goes, under viewsMu.
	views   atomic.Pointer[[]*cachedFile]
	viewsMu sync.Mutex

	unsubscribe func() // set in OnAdd

	nextIno atomic.Uint64 // the next inode number for a named view's directory and files

	// mntID is the kernel's ID of the mount (caller.go), set once mounted; 0 until then.
	mntID atomic.Uint64

	webURL string // MountOptions.WebURL; immutable once mounted
}

// NewRoot makes the root of a mount of e. Once its tree is built (OnAdd) it follows e's
// events to keep the kernel's caches of the files exact, until Close.
func NewRoot(e *engine.Engine) *Root {
	return &Root{e: e, unsubscribe: func() {}}
}

var _ engine.CacheKeeper = (*Root)(nil)

// BeforeLayout returns once the pages processes stored into through mappings of view v are
// written back: dropping the whole cache writes dirty pages back first. A layout about to
// change waits for it, so that those stores land where the old layout put them. The callers
// of a layout change — the layout file's FLUSH, a SETATTR of layout (layout's own writeback
// is blocked, and no notifier touches layout), the web, the engine's goroutines — may wait
// for a view's notifier; the wait rule checks it (requests.go).
func (r *Root) BeforeLayout(ctx context.Context, v *engine.View) {
	right := r.reqs.rightOf(ctx)
	for _, c := range r.viewCaches() {
		if c.view == v {
			c.queueWhole()
			c.sendQueued(right)
		}
	}
}

// AfterLayout returns once the kernel holds nothing of v's old layout (the whole drop that
// the layout's event queued is sent), for the same callers as BeforeLayout.
func (r *Root) AfterLayout(ctx context.Context, v *engine.View) {
	right := r.reqs.rightOf(ctx)
	for _, c := range r.viewCaches() {
		if c.view == v {
			c.sendQueued(right)
		}
	}
}

// Close stops following the engine's events and stops the notifiers.
func (r *Root) Close() {
	r.unsubscribe()
	r.e.SetCacheKeeper(nil)
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
	return append([]*cachedFile{r.data}, r.viewCaches()...)
}

// viewCaches returns the view files' caches.
func (r *Root) viewCaches() []*cachedFile {
	if p := r.views.Load(); p != nil {
		return *p
	}
	return nil
}

// addViewCache starts following the cache of a new view file.
func (r *Root) addViewCache(c *cachedFile) {
	r.viewsMu.Lock()
	defer r.viewsMu.Unlock()
	vs := append(slices.Clone(r.viewCaches()), c)
	r.views.Store(&vs)
	c.start()
}

// removeViewCache stops following a removed view's cache.
func (r *Root) removeViewCache(c *cachedFile) {
	r.viewsMu.Lock()
	defer r.viewsMu.Unlock()
	vs := slices.DeleteFunc(slices.Clone(r.viewCaches()), func(x *cachedFile) bool { return x == c })
	r.views.Store(&vs)
	c.stop()
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
		for _, c := range r.viewCaches() {
			if c.view.Pinned() {
				c.queueStore(ev.Store)
			} else {
				c.queueWhole()
			}
		}
	case engine.LayoutApplied:
		for _, c := range r.viewCaches() {
			if c.view.Name() == ev.View {
				c.queueWhole()
			}
		}
	}
}

// waitAll returns once every file's cache shows the changes made so far, for a caller with
// the right to wait for every file (requests.go).
func (r *Root) waitAll(right waitRight) {
	for _, c := range r.cached() {
		c.sendQueued(right)
	}
}

// waitViews is waitAll for the views only: what a truncate of data may wait for.
func (r *Root) waitViews(right waitRight) {
	for _, c := range r.viewCaches() {
		c.sendQueued(right)
	}
}

var _ = (fusefs.NodeOnAdder)((*Root)(nil))

// Inode numbers: the root is 1, the files of the top level are fixed so that debug traces
// stay readable, and named views take fresh numbers from nextIno (never reused: the kernel
// may still know a removed view's).
const (
	inoData = 2 + iota
	inoViews
	inoWeb
	inoMainView // the main view's files take inoMainView .. inoMainView+len(viewFileNames)-1
)

// OnAdd builds the tree: data, views/, the main view's files, and a directory for each
// named view the engine already has (resumed from a --store).
func (r *Root) OnAdd(ctx context.Context) {
	r.nextIno.Store(1 << 16)
	r.data = &cachedFile{root: r}
	data := r.NewPersistentInode(ctx, &dataNode{root: r, c: r.data}, fusefs.StableAttr{Mode: syscall.S_IFREG, Ino: inoData})
	r.data.inode = data
	r.AddChild("data", data, false)
	r.data.start()
	r.addViewFiles(ctx, &r.Inode, r.e.Main(), inoMainView, nil)
	if r.webURL != "" {
		text := []byte(r.webURL + "\n")
		web := &generatedNode{gen: func(context.Context) []byte { return text }, mode: 0o400, mtime: r.e.Mounted()}
		r.AddChild("web", r.NewPersistentInode(ctx, web, fusefs.StableAttr{Mode: syscall.S_IFREG, Ino: inoWeb}), false)
	}
	views := r.NewPersistentInode(ctx, &viewsDir{root: r}, fusefs.StableAttr{Mode: syscall.S_IFDIR, Ino: inoViews})
	r.AddChild("views", views, false)
	for _, name := range r.e.ViewNames() {
		if v, ok := r.e.View(name); ok {
			views.AddChild(name, r.newViewDir(ctx, v), false)
		}
	}
	// Only now, with every cache in place, follow the engine: an event (from the web,
	// which may already serve) never meets a half-built root.
	r.unsubscribe = r.e.Subscribe(r.changed)
	r.e.SetCacheKeeper(r)
}

// viewFileNames are the files of a view, the main one or a named one, in inode order.
var viewFileNames = []string{"layout", "view", "map", "map.svg", "vmas", "status", "status.json"}

// addViewFiles adds view v's files to dir, numbered from ino, and returns its view file's
// cache. opens, if not nil, counts the descriptors open on them.
func (r *Root) addViewFiles(ctx context.Context, dir *fusefs.Inode, v *engine.View, ino uint64, opens *openCount) *cachedFile {
	c := &cachedFile{root: r, view: v}
	gen := func(text func(context.Context) []byte) fusefs.InodeEmbedder {
		return &generatedNode{gen: text, mode: 0o444, mtime: r.e.Mounted(), opens: opens}
	}
	// The drawings show physical frame numbers only to a reader the kernel would show them
	// to (privileged); the other files are the same for everyone.
	drawing := func(draw func(privileged bool) []byte) fusefs.InodeEmbedder {
		return gen(func(ctx context.Context) []byte { return draw(privileged(callerPid(ctx))) })
	}
	same := func(text func() []byte) fusefs.InodeEmbedder {
		return gen(func(context.Context) []byte { return text() })
	}
	nodes := []fusefs.InodeEmbedder{
		&layoutNode{root: r, v: v, opens: opens},
		&viewNode{root: r, v: v, c: c, opens: opens},
		drawing(v.MapText), drawing(v.MapSVG), same(v.VMAsText), same(v.StatusText), same(v.StatusJSON),
	}
	for i, node := range nodes {
		ch := dir.NewPersistentInode(ctx, node, fusefs.StableAttr{Mode: syscall.S_IFREG, Ino: ino + uint64(i)})
		dir.AddChild(viewFileNames[i], ch, false)
		if viewFileNames[i] == "view" {
			c.inode = ch
		}
	}
	r.addViewCache(c)
	return c
}

// raiseReadahead lets the kernel read ahead as much as one READ carries (MaxWrite, which
// go-fuse also makes the most pages a request may hold), instead of the 128 KiB every FUSE
// mount starts with: a first read of a cached file then comes in 1 MiB READs, answered while
// the reader copies the last ones. Only root may (the mount's backing device's read_ahead_kb
// in sysfs); for anyone else the mount keeps the default, and says nothing.
func raiseReadahead(m *mountinfo.Info, bytes int) {
	name := fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", m.Major, m.Minor)
	_ = os.WriteFile(name, []byte(strconv.Itoa(bytes/1024)), 0)
}

// MountOptions are how a Root is mounted.
type MountOptions struct {
	AllowOther bool
	Debug      bool
	// Logger receives go-fuse diagnostics; nil means stderr.
	Logger *log.Logger
	// PanicHandler, if set, turns a handler panic into a reply (tests fail the test there).
	PanicHandler func(any) fuse.Status
	// WebURL, if set, is the live page's address with its token: the mount gets a file web
	// that only its owner may read (0400) holding it.
	WebURL string

	// wrapRaw, if set, wraps the file system the server calls: the tests put a layer there
	// that drops acknowledged writes, to prove their checks catch a loss.
	wrapRaw func(fuse.RawFileSystem) fuse.RawFileSystem
}

// fsName is the mount's source, as mount(8) and df show it: nlfs, or nlfs:ro for a read-only
// store (the mount itself stays read-write, as layouts are still written).
func fsName(e *engine.Engine) string {
	if e.ReadOnly() {
		return "nlfs:ro"
	}
	return "nlfs"
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
			FsName:        fsName(e),
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
			// The daemon alone decides what the kernel's page cache drops (cache.go): the
			// kernel's own guess, the whole file whenever its mtime changes, would only drop
			// pages that are exact.
			ExplicitDataCacheControl: true,
			PanicHandler:             mo.PanicHandler,
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
	root.webURL = mo.WebURL
	var raw fuse.RawFileSystem = &rawFS{RawFileSystem: fusefs.NewNodeFS(root, opts), root: root}
	if mo.wrapRaw != nil {
		raw = mo.wrapRaw(raw)
	}
	srv, err := fuse.NewServer(raw, dir, &opts.MountOptions)
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
	if m := mountAt(dir); m != nil {
		root.mntID.Store(uint64(m.ID)) // the field mnt_id of /proc/PID/fdinfo/FD (caller.go)
		raiseReadahead(m, opts.MountOptions.MaxWrite)
	}
	return srv, root, nil
}
