package fs

import (
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/nlfs/nlfs/engine"
)

// leaseResult is a read reply written straight from the store or view
// mapping. go-fuse writes a ReadResult that has Slices with one writev from
// those slices (no copy in the daemon, no splice attempt) and calls Done
// once the reply is sent, or once it failed: Done releases the lease and
// with it the mapper's read lock. go-fuse calls Done on every path that has
// a result of non-zero size, so a lease of no bytes is never wrapped.
type leaseResult struct{ l *engine.Lease }

var _ interface {
	fuse.ReadResult
	Slices() ([][]byte, fuse.Status)
} = (*leaseResult)(nil)

// maxSlices bounds the pieces of one reply: go-fuse sends them and its two
// headers with one writev, which takes at most IOV_MAX (1024) vectors. A
// 1 MiB read never comes near it (at most one piece per page, 256).
const maxSlices = 1000

// leased turns a lease into the reply for a read into dest (len(dest) is
// what was asked, so at least l.N).
func leased(l *engine.Lease, dest []byte) fuse.ReadResult {
	switch {
	case l.N == 0:
		return fuse.ReadResultData(nil)
	case len(l.Bufs) > maxSlices:
		n := copySlices(dest, l.Bufs)
		l.Release()
		return fuse.ReadResultVector([][]byte{dest[:n]})
	}
	return &leaseResult{l}
}

func (r *leaseResult) Size() int { return r.l.N }

func (r *leaseResult) Slices() ([][]byte, fuse.Status) { return r.l.Bufs, fuse.OK }

// Bytes is go-fuse's fallback for a result it cannot write from slices.
func (r *leaseResult) Bytes(buf []byte) ([]byte, fuse.Status) {
	if cap(buf) < r.l.N {
		buf = make([]byte, r.l.N)
	}
	return buf[:copySlices(buf[:r.l.N], r.l.Bufs)], fuse.OK
}

func (r *leaseResult) Done() { r.l.Release() }

func copySlices(dst []byte, bufs [][]byte) int {
	n := 0
	for _, b := range bufs {
		n += copy(dst[n:], b)
	}
	return n
}
