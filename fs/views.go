package fs

import (
	"context"
	"sync"
	"syscall"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/nlfs/nlfs/engine"
)

// viewsDir is views/: mkdir views/NAME makes a named view (engine.CreateView checks the
// name), rmdir removes one unless one of its files is open.
type viewsDir struct {
	fusefs.Inode
	noCreate
	root *Root
}

var (
	_ = (fusefs.NodeMkdirer)((*viewsDir)(nil))
	_ = (fusefs.NodeRmdirer)((*viewsDir)(nil))
	_ = (fusefs.NodeGetattrer)((*viewsDir)(nil))
	_ = (fusefs.NodeSetattrer)((*viewsDir)(nil))
)

func (d *viewsDir) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	v, err := d.root.e.CreateView(name)
	if err != nil {
		return nil, toErrno(err)
	}
	setDirAttr(&out.Attr, d.root.e.Mounted())
	return d.root.newViewDir(ctx, v), 0
}

// rmdirGrace is how long rmdir waits for the descriptors of a view's files to be released.
// The kernel sends RELEASE after close(2) has returned, so `cat views/a/status; rmdir
// views/a` can come before the RELEASE of that cat: that is not a file in use.
const rmdirGrace = time.Second

func (d *viewsDir) Rmdir(ctx context.Context, name string) syscall.Errno {
	ch := d.GetChild(name)
	if ch == nil {
		return syscall.ENOENT
	}
	vd, ok := ch.Operations().(*viewDir)
	if !ok {
		return syscall.ENOTDIR
	}
	if !vd.opens.close(rmdirGrace) {
		return syscall.EBUSY
	}
	if err := d.root.e.RemoveView(name); err != nil {
		return toErrno(err)
	}
	d.root.removeViewCache(vd.c)
	return 0
}

func (d *viewsDir) Getattr(ctx context.Context, f fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	setDirAttr(&out.Attr, d.root.e.Mounted())
	return 0
}

func (d *viewsDir) Setattr(ctx context.Context, f fusefs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return syscall.EPERM
}

// viewDir is views/NAME: the files of one named view.
type viewDir struct {
	fusefs.Inode
	noCreate
	noMkdir
	root  *Root
	v     *engine.View
	c     *cachedFile // its view file's cache
	opens openCount   // descriptors open on its files
}

var (
	_ = (fusefs.NodeOnAdder)((*viewDir)(nil))
	_ = (fusefs.NodeGetattrer)((*viewDir)(nil))
	_ = (fusefs.NodeSetattrer)((*viewDir)(nil))
)

// newViewDir makes the directory of named view v, with fresh inode numbers.
func (r *Root) newViewDir(ctx context.Context, v *engine.View) *fusefs.Inode {
	ino := r.nextIno.Add(uint64(1+len(viewFileNames))) - uint64(1+len(viewFileNames))
	return r.NewPersistentInode(ctx, &viewDir{root: r, v: v}, fusefs.StableAttr{Mode: syscall.S_IFDIR, Ino: ino})
}

// OnAdd adds the view's files, numbered after the directory.
func (d *viewDir) OnAdd(ctx context.Context) {
	d.c = d.root.addViewFiles(ctx, &d.Inode, d.v, d.StableAttr().Ino+1, &d.opens)
}

func (d *viewDir) Getattr(ctx context.Context, f fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	setDirAttr(&out.Attr, d.root.e.Mounted())
	return 0
}

func (d *viewDir) Setattr(ctx context.Context, f fusefs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return syscall.EPERM
}

// openCount counts the descriptors open on a named view's files (from OPEN to RELEASE), and
// decides the race of an open against the view's removal: an open counted before the count
// is closed keeps the view (rmdir says EBUSY) and works until it is released; an open after
// it finds nothing (ENOENT). A nil *openCount counts nothing (the main view, which cannot be
// removed).
type openCount struct {
	mu     sync.Mutex
	n      int64 // protected by mu
	closed bool  // the view is being removed: no open may start; protected by mu
}

// opened counts an open; false if the view is being removed (the open must fail, ENOENT).
func (o *openCount) opened() bool {
	if o == nil {
		return true
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return false
	}
	o.n++
	return true
}

func (o *openCount) released() {
	if o != nil {
		o.mu.Lock()
		o.n--
		o.mu.Unlock()
	}
}

// close stops every later open if no descriptor is open, waiting up to grace for releases
// on their way; false (nothing changed) if some stay open.
func (o *openCount) close(grace time.Duration) bool {
	deadline := time.Now().Add(grace)
	for {
		o.mu.Lock()
		if o.n == 0 {
			o.closed = true
			o.mu.Unlock()
			return true
		}
		o.mu.Unlock()
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}
