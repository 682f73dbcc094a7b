package fs

import (
	"context"
	"syscall"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/nlfs/nlfs/engine"
)

// layoutNode is the control file. Reading gives the layout in force in canonical form; a
// writer sends a whole new layout from offset 0, checked as it arrives and applied when the
// writer closes the file (FLUSH), so that `cat view` right after `echo … > layout` sees it.
// The session's rules are engine.LayoutWriter's.
type layoutNode struct {
	fusefs.Inode
	root  *Root
	v     *engine.View
	opens *openCount
}

var (
	_ = (fusefs.NodeOpener)((*layoutNode)(nil))
	_ = (fusefs.NodeReader)((*layoutNode)(nil))
	_ = (fusefs.NodeWriter)((*layoutNode)(nil))
	_ = (fusefs.NodeGetattrer)((*layoutNode)(nil))
	_ = (fusefs.NodeSetattrer)((*layoutNode)(nil))
	_ = (fusefs.NodeFlusher)((*layoutNode)(nil))
	_ = (fusefs.NodeReleaser)((*layoutNode)(nil))
	_ = (fusefs.NodeFsyncer)((*layoutNode)(nil))
)

// layoutHandle is one open of the layout file.
type layoutHandle struct {
	// text is what reads return: the layout in force at open. Immutable.
	text []byte
	// w is the write session; nil for a reader. Immutable.
	w *engine.LayoutWriter
}

func (n *layoutNode) Open(ctx context.Context, flags uint32) (fusefs.FileHandle, uint32, syscall.Errno) {
	if !n.opens.opened() {
		return nil, 0, syscall.ENOENT // the view was removed
	}
	h := &layoutHandle{text: n.v.LayoutText()}
	if flags&syscall.O_APPEND != 0 {
		// Refused whatever the file's size: with O_APPEND the kernel would send each write
		// at the size it last cached, so a session could be taken or refused by chance.
		n.opens.released()
		return nil, 0, toErrno(n.v.RefuseAppend())
	}
	if flags&syscall.O_ACCMODE != syscall.O_RDONLY {
		h.w = n.v.NewLayoutWriter(flags&syscall.O_TRUNC != 0)
	}
	return h, fuse.FOPEN_DIRECT_IO, 0
}

func (n *layoutNode) Read(ctx context.Context, f fusefs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	text := n.v.LayoutText()
	if h, ok := f.(*layoutHandle); ok {
		text = h.text
	}
	if off >= int64(len(text)) {
		return fuse.ReadResultData(nil), 0
	}
	return fuse.ReadResultData(text[off:min(off+int64(len(dest)), int64(len(text)))]), 0
}

func (n *layoutNode) Write(ctx context.Context, f fusefs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	h, ok := f.(*layoutHandle)
	if !ok || h.w == nil {
		return 0, syscall.EBADF
	}
	k, err := h.w.Write(data, off, n.root.reqs.ownerOf(ctx))
	return uint32(k), toErrno(err)
}

// Flush runs at every close(2) of every copy of a descriptor, a forked child's too. When the
// closing process keeps another descriptor of the file (a shell restoring its output after
// `echo … >&3`), it is not closing the file: nothing happens (caller.go). Otherwise the
// session applies what was written since the last apply if the closing file table (the
// FLUSH's lock owner) wrote through it (engine.LayoutWriter).
func (n *layoutNode) Flush(ctx context.Context, f fusefs.FileHandle) syscall.Errno {
	h, ok := f.(*layoutHandle)
	if !ok || h.w == nil {
		return 0
	}
	if holdsOther(callerPid(ctx), n.root.mntID.Load(), n.StableAttr().Ino, h.w.Written()) {
		return 0
	}
	return toErrno(h.w.Flush(ctx, n.root.reqs.ownerOf(ctx)))
}

// Release ends the write session (see engine.LayoutWriter.Release).
func (n *layoutNode) Release(ctx context.Context, f fusefs.FileHandle) syscall.Errno {
	if h, ok := f.(*layoutHandle); ok && h.w != nil {
		h.w.Release()
	}
	n.opens.released()
	return 0
}

func (n *layoutNode) Getattr(ctx context.Context, f fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	setFileAttr(&out.Attr, 0o644, int64(len(n.v.LayoutText())), n.v.LayoutTime())
	return 0
}

// Setattr to size 0 starts the layout over: on an open descriptor (ftruncate) the session
// restarts empty; by path (truncate(2)) the empty layout is applied at once. Any other size
// is refused.
func (n *layoutNode) Setattr(ctx context.Context, f fusefs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if errno := refuseAttrChange(in); errno != 0 {
		return errno
	}
	if size, ok := in.GetSize(); ok {
		h, _ := f.(*layoutHandle)
		switch {
		case size != 0:
			return toErrno(n.v.RefuseTruncate(int64(size)))
		case h != nil && h.w != nil:
			h.w.Restart()
		default:
			if errno := toErrno(n.v.ApplyEmpty(ctx)); errno != 0 {
				return errno
			}
		}
	}
	return n.Getattr(ctx, f, out)
}

func (n *layoutNode) Fsync(ctx context.Context, f fusefs.FileHandle, flags uint32) syscall.Errno {
	return 0
}
