package fs

import (
	"context"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// A planted fault for the tests that must prove they catch a lost write: a layer under the
// server (MountOptions.wrapRaw) that, when armed, answers every Nth WRITE of data or a view
// file as done — all its bytes — and passes nothing of it on, so that nothing is stored and
// nothing is invalidated. Every test mount has the layer; unarmed it only passes requests on.

var planted struct {
	every   atomic.Int64 // 0: unarmed; N: every Nth WRITE of data or a view is dropped
	seen    atomic.Int64 // such WRITEs since it was armed
	dropped atomic.Int64 // WRITEs dropped since the test binary started
	// beforeWrite, if set, runs before each WRITE of data or a view is passed on.
	beforeWrite atomic.Pointer[func()]
	// beforeRead, if set, runs in each READ before it is passed on, with the request's
	// context as a node handler gets it.
	beforeRead atomic.Pointer[func(context.Context)]
}

// dropAcknowledgedWrites arms the layer on every test mount of the process until restore
// is called: arm it only while one test's mount is writing.
func dropAcknowledgedWrites(everyN int64) (restore func()) {
	planted.seen.Store(0)
	planted.every.Store(everyN)
	return func() { planted.every.Store(0) }
}

// acknowledgedWritesDropped returns how many WRITEs the layer dropped so far.
func acknowledgedWritesDropped() int64 { return planted.dropped.Load() }

// plantable wraps a mount's file system in the layer.
func plantable(fs fuse.RawFileSystem) fuse.RawFileSystem {
	return &droppingFS{RawFileSystem: fs, stores: map[uint64]bool{}}
}

// droppingFS learns which node IDs are data and view files from the kernel's lookups, and
// looks the top level's up itself (the kernel may have them from a READDIRPLUS).
type droppingFS struct {
	fuse.RawFileSystem
	top    sync.Once
	mu     sync.Mutex
	stores map[uint64]bool // node IDs of files named data or view; protected by mu
}

func (d *droppingFS) Lookup(cancel <-chan struct{}, h *fuse.InHeader, name string, out *fuse.EntryOut) fuse.Status {
	st := d.RawFileSystem.Lookup(cancel, h, name, out)
	if st == fuse.OK && (name == "data" || name == "view") {
		d.mu.Lock()
		d.stores[out.NodeId] = true
		d.mu.Unlock()
	}
	return st
}

// drop tells whether this WRITE is to be dropped, after running beforeWrite if it is set.
func (d *droppingFS) drop(in *fuse.WriteIn) bool {
	n, before := planted.every.Load(), planted.beforeWrite.Load()
	if n == 0 && before == nil {
		return false
	}
	d.top.Do(func() {
		for _, name := range []string{"data", "view"} {
			var out fuse.EntryOut
			d.Lookup(nil, &fuse.InHeader{NodeId: fuse.FUSE_ROOT_ID}, name, &out)
		}
	})
	d.mu.Lock()
	store := d.stores[in.NodeId]
	d.mu.Unlock()
	if store && before != nil && in.WriteFlags&fuse.WRITE_CACHE == 0 {
		(*before)() // never for a writeback: its pages are under writeback until the reply
	}
	if !store || n == 0 || planted.seen.Add(1)%n != 0 {
		return false
	}
	planted.dropped.Add(1)
	return true
}

func (d *droppingFS) Read(cancel <-chan struct{}, in *fuse.ReadIn, buf []byte) (fuse.ReadResult, fuse.Status) {
	if f := planted.beforeRead.Load(); f != nil {
		(*f)(&fuse.Context{Caller: in.Caller, Cancel: cancel})
	}
	return d.RawFileSystem.Read(cancel, in, buf)
}

func (d *droppingFS) Write(cancel <-chan struct{}, in *fuse.WriteIn, data []byte) (uint32, fuse.Status) {
	if d.drop(in) {
		return uint32(len(data)), fuse.OK
	}
	return d.RawFileSystem.Write(cancel, in, data)
}

func (d *droppingFS) Writev(cancel <-chan struct{}, in *fuse.WriteIn, data [][]byte) (uint32, fuse.Status) {
	if d.drop(in) {
		n := 0
		for _, b := range data {
			n += len(b)
		}
		return uint32(n), fuse.OK
	}
	return d.RawFileSystem.Writev(cancel, in, data)
}

// Planted faults of the cache notifications, to prove the stale-page check catches them
// (TestStressCatchesCacheFaults).

// skippingNotifier passes a file's notifications on but drops every Nth one of a range (a
// whole-file drop always goes: layouts stay exact), answering it as sent.
type skippingNotifier struct {
	contentNotifier
	every int64
	seen  atomic.Int64
}

func (s *skippingNotifier) NotifyContent(off, length int64) syscall.Errno {
	if length > 0 && s.seen.Add(1)%s.every == 0 {
		return 0
	}
	return s.contentNotifier.NotifyContent(off, length)
}

// plantNotifier puts wrap around the notifier of c (the main view's, or data's).
func plantNotifier(c *cachedFile, wrap func(contentNotifier) contentNotifier) (restore func()) {
	c.n.sendMu.Lock()
	inner := c.inode
	c.inode = wrap(inner)
	c.n.sendMu.Unlock()
	return func() {
		c.n.sendMu.Lock()
		c.inode = inner
		c.n.sendMu.Unlock()
	}
}

// plantEarlyInvalidation drops c's pages before every write(2) of data or a view reaches the
// daemon, and none after: the order that lets a read between the two put the old bytes back
// in the cache.
func plantEarlyInvalidation(c *cachedFile) (restore func()) {
	undo := plantNotifier(c, func(n contentNotifier) contentNotifier { return &skippingNotifier{contentNotifier: n, every: 1} })
	early := func() {
		c.n.sendMu.Lock()
		n := c.inode.(*skippingNotifier).contentNotifier
		c.n.sendMu.Unlock()
		n.NotifyContent(0, 0)
	}
	planted.beforeWrite.Store(&early)
	return func() {
		planted.beforeWrite.Store(nil)
		undo()
	}
}

// failingNotifier refuses the next fails notifications with errno, as the kernel may (a
// connection going away), then passes them on.
type failingNotifier struct {
	contentNotifier
	fails atomic.Int64
	errno syscall.Errno
}

func (f *failingNotifier) NotifyContent(off, length int64) syscall.Errno {
	if f.fails.Add(-1) >= 0 {
		return f.errno
	}
	return f.contentNotifier.NotifyContent(off, length)
}
