package fs

import (
	"context"
	"syscall"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
)

// The tree is fixed: its seven files can be neither removed nor renamed
// (rename and creation already fail by go-fuse's defaults). For a node with
// no Unlink or Rmdir of its own, go-fuse drops the child from the tree and
// reports success, so `rm data` would make the store unreachable until the
// next mount: refuse it instead.
var (
	_ = (fusefs.NodeUnlinker)((*Root)(nil))
	_ = (fusefs.NodeRmdirer)((*Root)(nil))
)

// Unlink refuses to remove a file of the mount.
func (r *Root) Unlink(ctx context.Context, name string) syscall.Errno { return syscall.EPERM }

// Rmdir refuses too (there is no directory to remove).
func (r *Root) Rmdir(ctx context.Context, name string) syscall.Errno { return syscall.EPERM }
