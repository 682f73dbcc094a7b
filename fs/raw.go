package fs

import (
	"github.com/hanwen/go-fuse/v2/fuse"
)

// rawFS is the node file system with the one decision that needs the raw request: which
// requests wait, before their reply, for the kernel's caches to be made exact (cache.go).
// go-fuse's node API hides the WRITE flags that tell a write(2) from a writeback.
type rawFS struct {
	fuse.RawFileSystem
	root *Root
}

// Write: a write(2) (direct I/O) waits until every file's cache shows what it wrote; a
// writeback WRITE (FUSE_WRITE_CACHE) never waits, since the kernel holds its pages under
// writeback until the reply.
// go-fuse calls Writev for every WRITE (Write only where Writev says ENOSYS).
func (r *rawFS) Writev(cancel <-chan struct{}, in *fuse.WriteIn, data [][]byte) (uint32, fuse.Status) {
	n, st := r.RawFileSystem.Writev(cancel, in, data)
	r.wroteCaches(in)
	return n, st
}

func (r *rawFS) Write(cancel <-chan struct{}, in *fuse.WriteIn, data []byte) (uint32, fuse.Status) {
	n, st := r.RawFileSystem.Write(cancel, in, data)
	r.wroteCaches(in)
	return n, st
}

func (r *rawFS) wroteCaches(in *fuse.WriteIn) {
	if in.WriteFlags&fuse.WRITE_CACHE == 0 {
		r.root.waitAll()
	}
}

// Flush (every close) and Fsync (msync, fsync) come after the kernel wrote the file's dirty
// pages back, and wait until every file's cache shows them.
func (r *rawFS) Flush(cancel <-chan struct{}, in *fuse.FlushIn) fuse.Status {
	st := r.RawFileSystem.Flush(cancel, in)
	r.root.waitAll()
	return st
}

func (r *rawFS) Fsync(cancel <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	st := r.RawFileSystem.Fsync(cancel, in)
	r.root.waitAll()
	return st
}
