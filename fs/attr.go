package fs

import (
	"context"
	"syscall"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/nlfs/nlfs/engine"
)

// Attributes, in one place. They are real: a file has one link, a directory two; data's
// times are its last write, layout's its last applied layout, view's the later of both, and
// the other files' the mount's time. The change time is the modification time: nothing of
// the mount changes but through its content. Modes are fixed by what each file is: chmod, chown and
// touch of a file whose times follow its content are refused (EPERM) rather than reported
// done and ignored.

// setFileAttr fills a regular file's attributes.
func setFileAttr(a *fuse.Attr, mode uint32, size int64, mtime time.Time) {
	a.Mode = mode
	a.Nlink = 1
	a.Size = uint64(size)
	a.Blocks = (uint64(size) + 511) / 512 // for du and ls -s
	a.Blksize = uint32(engine.PageSize())
	a.SetTimes(&mtime, &mtime, &mtime)
}

// setDirAttr fills a directory's attributes.
func setDirAttr(a *fuse.Attr, mtime time.Time) {
	a.Mode = 0o755
	a.Nlink = 2
	a.Blksize = uint32(engine.PageSize())
	a.SetTimes(&mtime, &mtime, &mtime)
}

// attrChange tells what a SETATTR asks besides a size: a mode or owner change (never
// allowed), a time change.
func attrChange(in *fuse.SetAttrIn) (modeOrOwner, times bool) {
	const owner = fuse.FATTR_MODE | fuse.FATTR_UID | fuse.FATTR_GID
	const stamps = fuse.FATTR_ATIME | fuse.FATTR_MTIME | fuse.FATTR_ATIME_NOW | fuse.FATTR_MTIME_NOW | fuse.FATTR_CTIME
	return in.Valid&owner != 0, in.Valid&stamps != 0
}

// refuseAttrChange is the Setattr of a file that allows no change but, where the caller
// handles it, a size: EPERM for a mode, owner or time change.
func refuseAttrChange(in *fuse.SetAttrIn) syscall.Errno {
	if modeOrOwner, times := attrChange(in); modeOrOwner || times {
		return syscall.EPERM
	}
	return 0
}

var (
	_ = (fusefs.NodeGetattrer)((*Root)(nil))
	_ = (fusefs.NodeSetattrer)((*Root)(nil))
	_ = (fusefs.NodeStatfser)((*Root)(nil))
)

// Getattr of the root: a directory as old as the mount.
func (r *Root) Getattr(ctx context.Context, f fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	setDirAttr(&out.Attr, r.e.Mounted())
	return 0
}

// Setattr of the root changes nothing and says so.
func (r *Root) Setattr(ctx context.Context, f fusefs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return syscall.EPERM
}

// Statfs reports the store: its memory bound as the size, its pages in use as used (what df
// shows), in pages.
func (r *Root) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	ps := uint64(engine.PageSize())
	used := (uint64(r.e.StoreUsage()) + ps - 1) / ps
	total := max(uint64(r.e.SizeLimit())/ps, used)
	*out = fuse.StatfsOut{
		Blocks:  total,
		Bfree:   total - used,
		Bavail:  total - used,
		Bsize:   uint32(ps),
		Frsize:  uint32(ps),
		NameLen: 255,
	}
	return 0
}
