package fs

import (
	"context"
	"syscall"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// generatedNode is a read-only file whose text is made when it is opened
// and kept for that descriptor, so that a reader in several chunks gets one
// consistent snapshot (as seq_file's single_open does).
type generatedNode struct {
	fusefs.Inode
	gen   func(ctx context.Context) []byte // the text, for the request of ctx
	mode  uint32                           // 0o444, or 0o400 for a file only its owner may read
	mtime time.Time                        // the mount's time
	opens *openCount                       // nil for the top level's files
}

var (
	_ = (fusefs.NodeOpener)((*generatedNode)(nil))
	_ = (fusefs.NodeReader)((*generatedNode)(nil))
	_ = (fusefs.NodeGetattrer)((*generatedNode)(nil))
	_ = (fusefs.NodeSetattrer)((*generatedNode)(nil))
	_ = (fusefs.NodeReleaser)((*generatedNode)(nil))
)

// snapshot is the text one descriptor of a generated file reads.
type snapshot []byte

func (n *generatedNode) Open(ctx context.Context, flags uint32) (fusefs.FileHandle, uint32, syscall.Errno) {
	if flags&syscall.O_ACCMODE != syscall.O_RDONLY {
		return nil, 0, syscall.EACCES
	}
	if !n.opens.opened() {
		return nil, 0, syscall.ENOENT // the view was removed
	}
	return snapshot(n.gen(ctx)), fuse.FOPEN_DIRECT_IO, 0
}

func (n *generatedNode) Release(ctx context.Context, f fusefs.FileHandle) syscall.Errno {
	n.opens.released()
	return 0
}

func (n *generatedNode) Read(ctx context.Context, f fusefs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	text, ok := f.(snapshot)
	if !ok {
		text = n.gen(ctx)
	}
	if off >= int64(len(text)) {
		return fuse.ReadResultData(nil), 0
	}
	return fuse.ReadResultData(text[off:min(off+int64(len(dest)), int64(len(text)))]), 0
}

// Getattr gives the size of the text an open would give now, to the caller asking: the kernel
// does not say which descriptor a stat is for (go-fuse then passes whichever is open first,
// another reader's snapshot perhaps), and the files are served with direct I/O, so no reader
// depends on it.
func (n *generatedNode) Getattr(ctx context.Context, f fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	setFileAttr(&out.Attr, n.mode, int64(len(n.gen(ctx))), n.mtime)
	return 0
}

// Setattr refuses every change: the text is made, not stored.
func (n *generatedNode) Setattr(ctx context.Context, f fusefs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return syscall.EPERM
}
