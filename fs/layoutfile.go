package fs

import (
	"context"
	"fmt"
	"sync"
	"syscall"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/nlfs/nlfs/layout"
)

// layoutNode is the control file. Reading gives the layout in force in
// canonical form; a writer sends a whole new layout from offset 0, checked
// as it arrives and applied when the writer closes the file (FLUSH), so that
// `cat view` right after `echo … > layout` sees it.
type layoutNode struct {
	fusefs.Inode
	root *Root
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

	mu sync.Mutex
	// parser checks the text written so far; nil for a reader. Protected by mu.
	parser *layout.Parser
	// next is the offset the next write must start at. Protected by mu.
	next int64
	// dirty: written since the last apply. Protected by mu.
	dirty bool
	// truncated: opened with O_TRUNC or truncated to 0, and nothing
	// applied since; an empty layout is applied at release if no write
	// came. Protected by mu.
	truncated bool
	// err is the first error of this write session; sticky. Protected by mu.
	err error
}

func (n *layoutNode) Open(ctx context.Context, flags uint32) (fusefs.FileHandle, uint32, syscall.Errno) {
	h := &layoutHandle{text: n.root.layoutText()}
	if flags&syscall.O_ACCMODE != syscall.O_RDONLY {
		h.parser = layout.NewParser(n.root.limits())
		h.truncated = flags&syscall.O_TRUNC != 0
	}
	return h, fuse.FOPEN_DIRECT_IO, 0
}

func (n *layoutNode) Read(ctx context.Context, f fusefs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	text := n.root.layoutText()
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
	if !ok || h.parser == nil {
		return 0, syscall.EBADF
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err == nil && off != h.next {
		h.err = fmt.Errorf("write at offset %d: a layout is written whole, from offset 0 (do not append or seek)", off)
		n.root.noteResult(h.err)
	}
	if h.err != nil {
		return 0, syscall.EINVAL
	}
	if _, err := h.parser.Write(data); err != nil {
		h.err = err
		n.root.noteResult(err)
		return 0, toErrno(err)
	}
	h.next += int64(len(data))
	h.dirty = true
	return uint32(len(data)), 0
}

// Flush runs at every close(2) of a descriptor: apply what was written
// since the last apply. A flush with nothing new (bash sends one before its
// write) changes nothing.
func (n *layoutNode) Flush(ctx context.Context, f fusefs.FileHandle) syscall.Errno {
	h, ok := f.(*layoutHandle)
	if !ok || h.parser == nil {
		return 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err != nil {
		return toErrno(h.err)
	}
	if !h.dirty {
		return 0
	}
	h.dirty, h.truncated = false, false
	l, err := h.parser.Finish()
	if err == nil {
		err = n.root.apply(l)
	} else {
		n.root.noteResult(err)
	}
	if err != nil {
		h.err = err
		return toErrno(err)
	}
	return 0
}

// Release applies the empty layout for a session that truncated the file
// and wrote nothing (`: > layout`). It cannot report an error; status does.
func (n *layoutNode) Release(ctx context.Context, f fusefs.FileHandle) syscall.Errno {
	h, ok := f.(*layoutHandle)
	if !ok || h.parser == nil {
		return 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.truncated && !h.dirty && h.err == nil {
		n.root.applyEmpty()
	}
	return 0
}

func (n *layoutNode) Getattr(ctx context.Context, f fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Mode = 0o644
	setSize(&out.Attr, int64(len(n.root.layoutText())))
	return 0
}

// Setattr to size 0 starts the layout over: on an open descriptor
// (ftruncate) the session restarts empty; by path (truncate(2)) the empty
// layout is applied at once. Any other size is refused.
func (n *layoutNode) Setattr(ctx context.Context, f fusefs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if size, ok := in.GetSize(); ok {
		if size != 0 {
			n.root.noteResult(fmt.Errorf("truncate to %d bytes: a layout can only be truncated to 0 (the empty layout)", size))
			return syscall.EINVAL
		}
		if h, ok := f.(*layoutHandle); ok && h.parser != nil {
			h.mu.Lock()
			h.parser = layout.NewParser(n.root.limits())
			h.next, h.dirty, h.truncated, h.err = 0, false, true, nil
			h.mu.Unlock()
		} else if errno := toErrno(n.root.applyEmpty()); errno != 0 {
			return errno
		}
	}
	return n.Getattr(ctx, f, out)
}

func (n *layoutNode) Fsync(ctx context.Context, f fusefs.FileHandle, flags uint32) syscall.Errno {
	return 0
}

// applyEmpty returns the view to the identity that follows the store.
func (r *Root) applyEmpty() error {
	l, err := layout.Parse(nil, r.limits())
	if err != nil {
		return err
	}
	return r.apply(l)
}
