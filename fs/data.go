package fs

import (
	"context"
	"syscall"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/nlfs/nlfs/engine"
)

// dataNode is the store in file order. It resizes like a regular file.
type dataNode struct {
	fusefs.Inode
	root *Root
	c    *cachedFile
}

var (
	_ = (fusefs.NodeOpener)((*dataNode)(nil))
	_ = (fusefs.NodeReader)((*dataNode)(nil))
	_ = (fusefs.NodeWriter)((*dataNode)(nil))
	_ = (fusefs.NodeGetattrer)((*dataNode)(nil))
	_ = (fusefs.NodeSetattrer)((*dataNode)(nil))
	_ = (fusefs.NodeFsyncer)((*dataNode)(nil))
)

// Open serves data as every store file (openFlags): a reader from the page cache, a writer
// with direct I/O.
func (n *dataNode) Open(ctx context.Context, flags uint32) (fusefs.FileHandle, uint32, syscall.Errno) {
	if errno := refuseWriteOpen(n.root.e, flags); errno != 0 {
		return nil, 0, errno
	}
	if flags&syscall.O_TRUNC != 0 && flags&syscall.O_ACCMODE != syscall.O_RDONLY {
		if errno := n.truncate(ctx, 0); errno != 0 {
			return nil, 0, errno
		}
	}
	return nil, openFlags(flags), 0
}

// openFlags is how data and every view are opened. A read-only open is served from the page
// cache, kept across opens (FOPEN_KEEP_CACHE): the notifiers drop exactly what every change
// made stale before the change is acknowledged (cache.go), so a read that begins after a
// write, a truncate or a layout returned sees it. A writer is served with direct I/O (each
// write(2) comes to the daemon at once, and returns once every cache shows it) and keeps the
// cache too (without KEEP_CACHE the kernel would drop the whole file's pages at every open).
func openFlags(flags uint32) uint32 {
	if flags&syscall.O_ACCMODE == syscall.O_RDONLY {
		return fuse.FOPEN_KEEP_CACHE
	}
	return fuse.FOPEN_DIRECT_IO | fuse.FOPEN_KEEP_CACHE
}

// refuseWriteOpen refuses, with EROFS, an open for writing of a file that shows the store's
// bytes (data, a view) when the store is read-only: a descriptor opened read-only cannot
// write, nor map the file for writing (mmap PROT_WRITE, MAP_SHARED fails with EACCES).
func refuseWriteOpen(e *engine.Engine, flags uint32) syscall.Errno {
	if flags&syscall.O_ACCMODE == syscall.O_RDONLY {
		return 0
	}
	return toErrno(e.Writable())
}

// storeMode is the mode of a file that shows the store's bytes: read-only with the store.
func storeMode(e *engine.Engine) uint32 {
	if e.ReadOnly() {
		return 0o444
	}
	return 0o644
}

// Read replies straight from the linear mapping of the store (see
// leaseResult). Splicing from the memfd (fuse.ReadResultFd) would need a
// pipe of header + 1 MiB, over the default pipe-max-size of 1 MiB: go-fuse
// then falls back to pread into a buffer and a second copy.
func (n *dataNode) Read(ctx context.Context, f fusefs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	n.c.noteREAD()
	l, err := n.root.e.DataSlices(off, len(dest))
	if err != nil {
		return nil, toErrno(err)
	}
	return leased(l, dest), 0
}

// Write stores data. A refused write (the store full) drops the file's cached pages: a
// writeback of a mapping that failed leaves the process's bytes in the page cache, which the
// store does not hold.
func (n *dataNode) Write(ctx context.Context, f fusefs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	k, err := n.root.e.WriteData(data, off)
	if err != nil {
		n.c.queueWhole()
		return uint32(k), toErrno(err)
	}
	return uint32(k), 0
}

func (n *dataNode) Getattr(ctx context.Context, f fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	setFileAttr(&out.Attr, storeMode(n.root.e), n.root.e.DataSize(), n.root.e.DataTime())
	return 0
}

// Setattr resizes data (truncate) and sets its time (touch); a mode or owner change is
// refused. Of a read-only store, both are refused with EROFS: its data is the source's, time
// included.
func (n *dataNode) Setattr(ctx context.Context, f fusefs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	modeOrOwner, times := attrChange(in)
	if modeOrOwner {
		return syscall.EPERM
	}
	if _, resize := in.GetSize(); resize || times {
		if err := n.root.e.Writable(); err != nil {
			return toErrno(err)
		}
	}
	if times {
		mtime, ok := in.GetMTime()
		if !ok {
			mtime = time.Now()
		}
		n.root.e.SetDataTime(mtime)
	}
	if size, ok := in.GetSize(); ok {
		if errno := n.truncate(ctx, int64(size)); errno != 0 {
			return errno
		}
	}
	return n.Getattr(ctx, f, out)
}

// truncate resizes data. It arrives as a SETATTR or an OPEN(O_TRUNC), during which the
// kernel holds data's writeback: it waits for the views' caches, never for data's own
// (cache.go, requests.go).
func (n *dataNode) truncate(ctx context.Context, size int64) syscall.Errno {
	err := n.root.e.Truncate(size)
	n.root.waitViews(n.root.reqs.rightOf(ctx))
	return toErrno(err)
}

// Fsync has nothing to do: the store is memory.
func (n *dataNode) Fsync(ctx context.Context, f fusefs.FileHandle, flags uint32) syscall.Errno {
	return 0
}
