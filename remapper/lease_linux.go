package remapper

import (
	"fmt"
	"syscall"
	"unsafe"
)

// A Lease lends view or store bytes out as slices of the live mappings, with the Mapper's
// read lock held until Release: nothing is copied, and no layout change, write, truncate or
// Close can change, move or unmap the bytes meanwhile. It is how a FUSE reply is written
// straight from the nonlinear mapping (one writev from Bufs, then Release).
//
// Bufs must not be written to, and must not be used after Release. A Lease of no bytes
// holds no lock. Release must be called exactly once for every Lease of N > 0 (further
// calls do nothing); a forgotten Release blocks every later write and layout change.
type Lease struct {
	Bufs [][]byte // the bytes in order; pieces adjacent in memory are merged
	N    int      // total length of Bufs
	m    *Mapper  // the Mapper whose read lock is held; nil once released
}

// Release gives the bytes back and drops the read lock.
func (l *Lease) Release() {
	if l == nil || l.m == nil {
		return
	}
	m := l.m
	l.m, l.Bufs, l.N = nil, nil, 0
	m.mu.RUnlock()
}

// zeros stands in for view pages whose store page is past the end of data or was never
// written. It is never written (Bufs are read-only), so it stays on the kernel's shared
// zero page.
var zeros [64 << 10]byte

// add appends b, merging it into the last piece when it continues it in memory (an
// identity or contiguous run reads as one piece; the result is the same bytes either way).
func (l *Lease) add(b []byte) {
	if k := len(l.Bufs); k > 0 {
		last := l.Bufs[k-1]
		if unsafe.Add(unsafe.Pointer(unsafe.SliceData(last)), len(last)) == unsafe.Pointer(unsafe.SliceData(b)) {
			l.Bufs[k-1] = unsafe.Slice(unsafe.SliceData(last), len(last)+len(b))
			l.N += len(b)
			return
		}
	}
	l.Bufs = append(l.Bufs, b)
	l.N += len(b)
}

func (l *Lease) addZeros(n int) {
	for n > 0 {
		k := min(n, len(zeros))
		l.Bufs = append(l.Bufs, zeros[:k])
		l.N += k
		n -= k
	}
}

// ViewSlices lends out view bytes [off, off+n), clipped at the end of the view (a range at
// or past it gives an empty Lease, as ReadView returns 0): slices of the view mapping for
// the remap and mmap backends, of the linear store mapping for gather, and of a shared zero
// buffer for view pages whose store page is past the end of data (never touched, so never
// SIGBUS) or was never written (not touched either, so that it is not allocated). There is
// at most about one slice per page of the range; a mapped view gives one per stretch of
// written pages, an identity view one in all. The bytes are those ReadView would copy.
func (m *Mapper) ViewSlices(off int64, n int) (*Lease, error) {
	if off < 0 {
		return nil, fmt.Errorf("read view: negative offset %d: %w", off, syscall.EINVAL)
	}
	m.mu.RLock()
	if m.closed {
		m.mu.RUnlock()
		return nil, errClosed("read view")
	}
	size := m.view.pages * pageSize
	if off >= size || n <= 0 {
		m.mu.RUnlock()
		return &Lease{}, nil
	}
	n = int(min(int64(n), size-off))
	l := &Lease{m: m, Bufs: make([][]byte, 0, min(n/int(pageSize)+2, 1024))}
	base := m.view.base
	_ = m.walkLocked(off, n, func(s segment) error {
		switch {
		case !s.inStore:
			l.addZeros(s.n)
		default:
			m.addStoreLocked(l, base, s.viewOff, s.storeOff, s.n)
		}
		return nil
	})
	return l, nil
}

// addStoreLocked adds store bytes [off, off+n), shown at view offset viewOff of a view
// mapping at base (nil: read the store mapping), to l: slices of the mapping where the store
// pages were written, zeros where they never were (a hole touched through a shared mapping
// would be allocated: a sparse store stays sparse when read). Needs mu held.
func (m *Mapper) addStoreLocked(l *Lease, base unsafe.Pointer, viewOff, off int64, n int) {
	m.storeExtents(off, n, func(o int64, k int, written bool) {
		switch {
		case !written:
			l.addZeros(k)
		case base != nil:
			l.add(mem(base, viewOff+o-off, k))
		default:
			l.add(mem(m.store, o, k))
		}
	})
}

// DataSlices lends out store bytes [off, off+n), clipped at the end of data, as one slice of
// the linear store mapping (an empty Lease at or past the end), or, where pages were never
// written, slices of it and of zeros.
func (m *Mapper) DataSlices(off int64, n int) (*Lease, error) {
	if off < 0 {
		return nil, fmt.Errorf("read data: negative offset %d: %w", off, syscall.EINVAL)
	}
	m.mu.RLock()
	if m.closed {
		m.mu.RUnlock()
		return nil, errClosed("read data")
	}
	if off >= m.size || n <= 0 {
		m.mu.RUnlock()
		return &Lease{}, nil
	}
	n = int(min(int64(n), m.size-off))
	l := &Lease{m: m, Bufs: make([][]byte, 0, 1)}
	m.addStoreLocked(l, nil, 0, off, n)
	return l, nil
}
