package fs

import (
	"context"
	"syscall"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/nlfs/nlfs/remapper"
)

// Attributes, in one place. They are real: a file has one link, a directory two; data's
// times are its last write, layout's its last applied layout, view's the later of both, and
// the other files' the mount's time. Modes are fixed by what each file is: chmod, chown and
// touch of a file whose times follow its content are refused (EPERM) rather than reported
// done and ignored.

// setFileAttr fills a regular file's attributes.
func setFileAttr(out *fuse.AttrOut, mode uint32, size int64, mtime time.Time) {
	out.Mode = mode
	out.Nlink = 1
	out.Size = uint64(size)
	out.Blocks = (uint64(size) + 511) / 512 // for du and ls -s
	out.Blksize = uint32(remapper.PageSize())
	setTimes(&out.Attr, mtime)
}

// setDirAttr fills a directory's attributes.
func setDirAttr(out *fuse.AttrOut, mtime time.Time) {
	out.Mode = 0o755
	out.Nlink = 2
	out.Blksize = uint32(remapper.PageSize())
	setTimes(&out.Attr, mtime)
}

// setTimes sets atime, mtime and ctime to t: nothing of the mount changes but through its
// content, so the change time is the modification time.
func setTimes(a *fuse.Attr, t time.Time) {
	a.SetTimes(&t, &t, &t)
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
	setDirAttr(out, r.e.Mounted())
	return 0
}

// Setattr of the root changes nothing and says so.
func (r *Root) Setattr(ctx context.Context, f fusefs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return syscall.EPERM
}

// Statfs reports the store: its memory bound as the size, its pages in use as used (what df
// shows), in pages.
func (r *Root) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	ps := uint64(remapper.PageSize())
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
