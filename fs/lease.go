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

// copyBelow is the average size of a lease's pieces under which the reply is copied into one
// buffer rather than written from the pieces. The kernel takes the pages of every piece of a
// reply's writev apart (get_user_pages on each), and on a paravirtualized VM each of those calls
// costs more than copying a page: a 1 MiB reply of 256 scattered pages went out at about 1.1
// GB/s from the pieces and 1.8 GB/s copied (a 4 GiB shuffle, this machine). Long runs keep the
// zero-copy path. It also keeps a reply under IOV_MAX (1024) vectors, go-fuse's one writev.
const copyBelow = 64 << 10

// leased turns a lease into the reply for a read into dest (len(dest) is what was asked, so
// at least l.N): from the live mapping itself when its pieces are long, copied into dest when
// they are many and short (copyBelow).
func leased(l *engine.Lease, dest []byte) fuse.ReadResult {
	switch {
	case l.N == 0:
		return fuse.ReadResultData(nil)
	case len(l.Bufs) > 1 && l.N/len(l.Bufs) < copyBelow:
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
