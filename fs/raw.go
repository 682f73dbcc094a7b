package fs

import (
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// rawFS is the node file system with what needs the raw request: the right of each request
// to wait for the kernel's caches (requests.go: granted here, from the opcode and the WRITE
// flags that go-fuse's node API hides), the lock owner of a WRITE and a FLUSH (which open file
// table writes or closes: the layout file applies at the close of one that wrote), and the
// waits themselves that make what a write(2), a FLUSH or an FSYNC changed visible everywhere
// before the reply.
type rawFS struct {
	fuse.RawFileSystem
	root *Root
}

// Writev: a write(2) (direct I/O) may wait for every file's queue and does, after the write,
// so that every file's cache shows what it wrote when it returns; a writeback WRITE
// (FUSE_WRITE_CACHE) may not wait at all, since the kernel holds its pages under writeback
// until the reply. go-fuse calls Writev for every WRITE (Write only where Writev says ENOSYS).
func (r *rawFS) Writev(cancel <-chan struct{}, in *fuse.WriteIn, data [][]byte) (uint32, fuse.Status) {
	right := writeRight(in)
	defer r.root.reqs.grant(cancel, request{op: "WRITE", right: right, owner: writeOwner(in)})()
	n, st := r.RawFileSystem.Writev(cancel, in, data)
	if right == waitAll {
		r.root.waitAll(right)
	}
	return n, st
}

func (r *rawFS) Write(cancel <-chan struct{}, in *fuse.WriteIn, data []byte) (uint32, fuse.Status) {
	right := writeRight(in)
	defer r.root.reqs.grant(cancel, request{op: "WRITE", right: right, owner: writeOwner(in)})()
	n, st := r.RawFileSystem.Write(cancel, in, data)
	if right == waitAll {
		r.root.waitAll(right)
	}
	return n, st
}

// writeRight is the right of a WRITE: waitAll for a write(2), waitNever for writeback.
func writeRight(in *fuse.WriteIn) waitRight {
	if in.WriteFlags&fuse.WRITE_CACHE != 0 {
		return waitNever
	}
	return waitAll
}

// writeOwner is the lock owner of a WRITE: the kernel sends it (FUSE_WRITE_LOCKOWNER) for
// every direct-I/O write, which all writes of the layout file are.
func writeOwner(in *fuse.WriteIn) uint64 {
	if in.WriteFlags&fuse.WRITE_LOCKOWNER == 0 {
		return 0
	}
	return in.LockOwner
}

// Flush (every close of every copy of a descriptor) and Fsync (msync, fsync) come after the
// kernel wrote the file's dirty pages back: they may wait for every file's queue, and do,
// until every file's cache shows what was flushed.
func (r *rawFS) Flush(cancel <-chan struct{}, in *fuse.FlushIn) fuse.Status {
	defer r.root.reqs.grant(cancel, request{op: "FLUSH", right: waitAll, owner: in.LockOwner})()
	st := r.RawFileSystem.Flush(cancel, in)
	r.root.waitAll(waitAll)
	return st
}

func (r *rawFS) Fsync(cancel <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	defer r.root.reqs.grant(cancel, request{op: "FSYNC", right: waitAll})()
	st := r.RawFileSystem.Fsync(cancel, in)
	r.root.waitAll(waitAll)
	return st
}

// SetAttr and Open(O_TRUNC) truncate data, or apply the empty layout through the layout
// file: they may wait for the views' queues, never for data's (the kernel holds the file's
// writeback until the reply).
func (r *rawFS) SetAttr(cancel <-chan struct{}, in *fuse.SetAttrIn, out *fuse.AttrOut) fuse.Status {
	defer r.root.reqs.grant(cancel, request{op: "SETATTR", right: waitViews})()
	return r.RawFileSystem.SetAttr(cancel, in, out)
}

func (r *rawFS) Open(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	if in.Flags&syscall.O_TRUNC == 0 {
		return r.RawFileSystem.Open(cancel, in, out)
	}
	defer r.root.reqs.grant(cancel, request{op: "OPEN", right: waitViews})()
	return r.RawFileSystem.Open(cancel, in, out)
}
