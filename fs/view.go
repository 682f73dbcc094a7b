package fs

import (
	"context"
	"syscall"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/nlfs/nlfs/engine"
)

// viewNode is the store's pages in layout order, read from the nonlinear
// mapping itself.
type viewNode struct {
	fusefs.Inode
	root  *Root
	v     *engine.View
	c     *cachedFile
	opens *openCount
}

var (
	_ = (fusefs.NodeOpener)((*viewNode)(nil))
	_ = (fusefs.NodeReader)((*viewNode)(nil))
	_ = (fusefs.NodeWriter)((*viewNode)(nil))
	_ = (fusefs.NodeGetattrer)((*viewNode)(nil))
	_ = (fusefs.NodeSetattrer)((*viewNode)(nil))
	_ = (fusefs.NodeFsyncer)((*viewNode)(nil))
	_ = (fusefs.NodeReleaser)((*viewNode)(nil))
)

// Open serves view as data (openFlags).
func (n *viewNode) Open(ctx context.Context, flags uint32) (fusefs.FileHandle, uint32, syscall.Errno) {
	if errno := refuseWriteOpen(n.root.e, flags); errno != 0 {
		return nil, 0, errno
	}
	if !n.opens.opened() {
		return nil, 0, syscall.ENOENT // the view was removed
	}
	return viewHandle{}, openFlags(flags), 0
}

// viewHandle is an open of view. It holds nothing, but go-fuse sends RELEASE to a node only
// for an open that returned a handle, and a named view counts its open files.
type viewHandle struct{}

func (n *viewNode) Release(ctx context.Context, f fusefs.FileHandle) syscall.Errno {
	n.opens.released()
	return 0
}

// Read replies straight from the view mapping (see leaseResult): the
// kernel copies the bytes from the nonlinear mapping into the reader's
// buffer, and the daemon copies nothing.
func (n *viewNode) Read(ctx context.Context, f fusefs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	n.c.noteREAD()
	l, err := n.v.ViewSlices(off, len(dest))
	if err != nil {
		return nil, toErrno(err)
	}
	return leased(l, dest), 0
}

// Write stores data through the view; a refused write drops the file's cached pages, as
// dataNode.Write.
func (n *viewNode) Write(ctx context.Context, f fusefs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	k, err := n.v.WriteView(data, off)
	if err != nil {
		n.c.queueWhole()
		return uint32(k), toErrno(err)
	}
	return uint32(k), 0
}

func (n *viewNode) Getattr(ctx context.Context, f fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	setFileAttr(&out.Attr, storeMode(n.root.e), n.v.ViewSize(), n.v.ViewTime())
	return 0
}

// Setattr accepts a truncate to the view's own size (what `> view` and
// O_TRUNC amount to when nothing is to change) and refuses any other: the
// view's size is the layout's business. Of a read-only store, a truncate is
// refused with EROFS, as a write is.
func (n *viewNode) Setattr(ctx context.Context, f fusefs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if errno := refuseAttrChange(in); errno != 0 {
		return errno
	}
	if size, ok := in.GetSize(); ok {
		if err := n.root.e.Writable(); err != nil {
			return toErrno(err)
		}
		if err := n.v.TruncateView(int64(size)); err != nil {
			return toErrno(err)
		}
	}
	return n.Getattr(ctx, f, out)
}

func (n *viewNode) Fsync(ctx context.Context, f fusefs.FileHandle, flags uint32) syscall.Errno {
	return 0
}
