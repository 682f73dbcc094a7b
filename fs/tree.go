package fs

import (
	"context"
	"syscall"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// The tree is fixed but for named views: its files can be neither removed nor renamed. For a
// node with no Unlink or Rmdir of its own, go-fuse drops the child from the tree and reports
// success, so `rm data` would make the store unreachable until the next mount: every
// directory refuses instead (noCreate, noMkdir).

// Nothing can be created, linked or renamed anywhere in the mount but a named view (mkdir in
// views/): refuse it plainly rather than with go-fuse's "not supported".
type noCreate struct{}

func (noCreate) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fusefs.Inode, fusefs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.EPERM
}

func (noCreate) Mknod(ctx context.Context, name string, mode, dev uint32, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}

func (noCreate) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}

func (noCreate) Link(ctx context.Context, target fusefs.InodeEmbedder, name string, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}

func (noCreate) Rename(ctx context.Context, name string, newParent fusefs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	return syscall.EPERM
}

func (noCreate) Unlink(ctx context.Context, name string) syscall.Errno { return syscall.EPERM }

// noMkdir refuses a directory where views cannot be made.
type noMkdir struct{}

func (noMkdir) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}

func (noMkdir) Rmdir(ctx context.Context, name string) syscall.Errno { return syscall.EPERM }

var (
	_ = (fusefs.NodeCreater)((*Root)(nil))
	_ = (fusefs.NodeMknoder)((*viewsDir)(nil))
	_ = (fusefs.NodeSymlinker)((*viewDir)(nil))
	_ = (fusefs.NodeLinker)((*Root)(nil))
	_ = (fusefs.NodeRenamer)((*viewsDir)(nil))
	_ = (fusefs.NodeMkdirer)((*viewDir)(nil))
	_ = (fusefs.NodeMkdirer)((*Root)(nil))
)
