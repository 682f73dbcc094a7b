package remapper

import (
	"fmt"
	"sort"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A Lease lends view or store bytes out as slices of the live mappings, with the store's
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
	s    *Store   // the store whose read lock is held; nil once released
}

// Release gives the bytes back and drops the read lock.
func (l *Lease) Release() {
	if l == nil || l.s == nil {
		return
	}
	s := l.s
	if cap(l.Bufs) >= minPooledBufs {
		b := l.Bufs[:0]
		bufsPool.Put(&b)
	}
	l.s, l.Bufs, l.N = nil, nil, 0
	s.mu.RUnlock()
}

// bufsPool recycles the slice headers of leases (a 1 MiB read of a view of single-page runs
// takes 256 of them): a daemon serving reads makes no garbage for them, and its heap does not
// grow, a page fault at a time, during the first reads.
var bufsPool = sync.Pool{New: func() any {
	b := make([][]byte, 0, maxPooledBufs)
	return &b
}}

const minPooledBufs, maxPooledBufs = 64, 1024

// newLease starts a lease of store s (whose read lock the caller holds) for about pieces
// pieces.
func newLease(s *Store, pieces int) *Lease {
	l := &Lease{s: s}
	if pieces >= minPooledBufs {
		l.Bufs = *bufsPool.Get().(*[][]byte)
	} else {
		l.Bufs = make([][]byte, 0, pieces)
	}
	return l
}

// CopyTo copies the leased bytes to dst (at least N bytes long) and returns N.
func (l *Lease) CopyTo(dst []byte) int {
	n := 0
	for _, b := range l.Bufs {
		n += copy(dst[n:], b)
	}
	return n
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

// addStoreLocked adds store bytes [off, off+n), shown at view offset viewOff of a view
// mapping at base (nil: read the store mapping), to l: slices of the mapping where the store
// pages were written, zeros where they never were (a hole touched through a shared mapping
// would be allocated: a sparse store stays sparse when read). Needs mu held.
func (s *Store) addStoreLocked(l *Lease, base unsafe.Pointer, viewOff, off int64, n int) {
	s.extentsLocked(off, n, func(o int64, k int, written bool) {
		switch {
		case !written:
			l.addZeros(k)
		case base != nil:
			l.add(mem(base, viewOff+o-off, k))
		default:
			l.add(mem(s.mem, o, k))
		}
	})
}

// DataSlices lends out store bytes [off, off+n), clipped at the end of data, as one slice of
// the linear store mapping (an empty Lease at or past the end), or, where pages were never
// written, slices of it and of zeros. A negative offset is an error wrapping syscall.EINVAL.
func (s *Store) DataSlices(off int64, n int) (*Lease, error) {
	if off < 0 {
		return nil, fmt.Errorf("read data: negative offset %d: %w", off, syscall.EINVAL)
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return nil, errClosed("read data")
	}
	if off >= s.size || n <= 0 {
		s.mu.RUnlock()
		return &Lease{}, nil
	}
	n = int(min(int64(n), s.size-off))
	l := newLease(s, 1)
	s.addStoreLocked(l, nil, 0, off, n)
	return l, nil
}

// ReadData reads the store at off: a lease, a copy, a release. Unlike io.ReaderAt, the end of
// the store is not an error: a read that runs past it returns the bytes up to it (n < len(p))
// with a nil error, and a read at or past it returns 0, nil, which is what a FUSE read
// handler wants.
func (s *Store) ReadData(p []byte, off int64) (int, error) {
	return copyLease(p, func() (*Lease, error) { return s.DataSlices(off, len(p)) })
}

func copyLease(p []byte, lend func() (*Lease, error)) (int, error) {
	l, err := lend()
	if err != nil {
		return 0, err
	}
	defer l.Release()
	return l.CopyTo(p), nil
}

// segment is a piece of a view access that lies in one run and on one side of the store's end.
type segment struct {
	buf      int   // offset in the caller's buffer
	viewOff  int64 // byte offset in the view
	storeOff int64 // byte offset in the store
	n        int
	inStore  bool // the store page exists; false: at or past the end of the store
}

// walkLocked calls fn for the segments of view bytes [off, off+n), in order, stopping at
// the first error. The range must lie inside the view. Needs s.mu held (read or write).
func (v *View) walkLocked(off int64, n int, fn func(segment) error) error {
	runs := v.cur.runs
	storeEnd := pagesFor(v.s.size) * pageSize
	vp := off / pageSize
	i := sort.Search(len(runs), func(i int) bool { return runs[i].View+runs[i].Count > vp })
	done := 0
	for done < n {
		r := runs[i]
		cur := off + int64(done)
		length := min(int64(n-done), (r.View+r.Count)*pageSize-cur)
		storeOff := r.File*pageSize + cur - r.View*pageSize
		if storeOff < storeEnd {
			in := min(length, storeEnd-storeOff)
			if err := fn(segment{buf: done, viewOff: cur, storeOff: storeOff, n: int(in), inStore: true}); err != nil {
				return err
			}
			done += int(in)
			cur += int64(in)
			storeOff += in
			length -= in
		}
		if length > 0 {
			if err := fn(segment{buf: done, viewOff: cur, storeOff: storeOff, n: int(length), inStore: false}); err != nil {
				return err
			}
			done += int(length)
		}
		i++
	}
	return nil
}

// ViewSlices lends out view bytes [off, off+n), clipped at the end of the view (a range at
// or past it gives an empty Lease): slices of the view mapping for the remap and mmap
// backends, of the linear store mapping for gather, and of a shared zero buffer for view
// pages whose store page is past the end of data (never touched, so never SIGBUS) or was
// never written (not touched either, so that it is not allocated). There is at most about one
// slice per page of the range; a mapped view gives one per stretch of written pages, an
// identity view one in all.
func (v *View) ViewSlices(off int64, n int) (*Lease, error) {
	if off < 0 {
		return nil, fmt.Errorf("read view: negative offset %d: %w", off, syscall.EINVAL)
	}
	s := v.s
	s.mu.RLock()
	if v.closed {
		s.mu.RUnlock()
		return nil, errClosed("read view")
	}
	size := v.cur.pages * pageSize
	if off >= size || n <= 0 {
		s.mu.RUnlock()
		return &Lease{}, nil
	}
	n = int(min(int64(n), size-off))
	l := newLease(s, min(n/int(pageSize)+2, maxPooledBufs))
	base := v.cur.base
	_ = v.walkLocked(off, n, func(sg segment) error {
		if sg.inStore {
			s.addStoreLocked(l, base, sg.viewOff, sg.storeOff, sg.n)
		} else {
			l.addZeros(sg.n)
		}
		return nil
	})
	return l, nil
}

// ReadView reads the view at off: a lease, a copy, a release. View pages whose store page is
// at or past the end of the store read as zeros (never SIGBUS). As with ReadData, the end of
// the view is not an error.
func (v *View) ReadView(p []byte, off int64) (int, error) {
	return copyLease(p, func() (*Lease, error) { return v.ViewSlices(off, len(p)) })
}

// writeLocked writes src at store offset storeOff, shown at view offset viewOff, all of it
// on one side of the end of data. Inside data: through the nonlinear mapping itself into
// pages that exist, else into the store (Store.writeLocked allocates). Past the end (bytes of
// the last page that are not data, see WriteView): that page is allocated if it must be,
// without changing the store's size, then written through the store mapping. Needs s.mu
// held for writing.
func (v *View) writeLocked(src []byte, storeOff, viewOff int64) (int, error) {
	s := v.s
	if storeOff >= s.size {
		if page := storeOff / pageSize; !s.written.has(page) {
			if s.roomLocked(page*pageSize, (page+1)*pageSize) <= page*pageSize {
				return 0, fmt.Errorf("the store's size limit is %d pages: %w", s.limit, syscall.ENOSPC)
			}
			if err := unix.Fallocate(s.fd, unix.FALLOC_FL_KEEP_SIZE, page*pageSize, pageSize); err != nil {
				return 0, fmt.Errorf("allocate store page %d: %w", page, err)
			}
			s.written.add(page, page+1)
		}
		return copy(mem(s.mem, storeOff, len(src)), src), nil
	}
	if base := v.cur.base; base != nil && s.written.all(storeOff/pageSize, pagesFor(storeOff+int64(len(src)))) {
		return copy(mem(base, viewOff, len(src)), src), nil
	}
	return s.writeLocked(src, storeOff)
}

// Extent is a byte range of the store: Len bytes from Off.
type Extent struct{ Off, Len int64 }

// addExtent appends [off, off+n) to ext, merging it into the last extent when it continues it.
func addExtent(ext []Extent, off, n int64) []Extent {
	if k := len(ext); k > 0 && ext[k-1].Off+ext[k-1].Len == off {
		ext[k-1].Len += n
		return ext
	}
	return append(ext, Extent{off, n})
}

// WriteView writes p at off through the view: the bytes land in the store page shown there
// (and show at every view page of every view that shows that page). It returns the bytes
// written and the store extents they went to, in the order written. A write that reaches a
// view page whose store page is at or past the end of the store stops there with an error
// wrapping syscall.ENXIO; one that reaches the end of the view stops there with an error
// wrapping syscall.EFBIG. In both cases n says how many bytes before that point were written.
// Bytes written past the store's size inside its last page show in the view but are not data:
// they do not change DataSize and are zeroed if the store grows.
func (v *View) WriteView(p []byte, off int64) (n int, ext []Extent, err error) {
	if off < 0 {
		return 0, nil, fmt.Errorf("write view: negative offset %d: %w", off, syscall.EINVAL)
	}
	s := v.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if v.closed {
		return 0, nil, errClosed("write view")
	}
	size := v.cur.pages * pageSize
	if off >= size && len(p) > 0 {
		return 0, nil, fmt.Errorf("write view: offset %d is at or past the end of the view (%d bytes): %w", off, size, syscall.EFBIG)
	}
	want := int(min(int64(len(p)), size-off))
	err = v.walkLocked(off, want, func(sg segment) error {
		if !sg.inStore {
			return fmt.Errorf("write view: view page %d shows store page %d, past the end of data (%d pages): %w",
				sg.viewOff/pageSize, sg.storeOff/pageSize, pagesFor(s.size), syscall.ENXIO)
		}
		// The part inside data, then the part past its end (only ever in its last page).
		src := p[sg.buf : sg.buf+sg.n]
		inside := int(max(0, min(int64(sg.n), s.size-sg.storeOff)))
		for _, part := range [2]struct {
			src      []byte
			storeOff int64
		}{{src[:inside], sg.storeOff}, {src[inside:], sg.storeOff + int64(inside)}} {
			if len(part.src) == 0 {
				continue
			}
			viewOff := sg.viewOff + part.storeOff - sg.storeOff
			k, err := v.writeLocked(part.src, part.storeOff, viewOff)
			n += k
			if k > 0 {
				ext = addExtent(ext, part.storeOff, int64(k))
			}
			if err != nil {
				return fmt.Errorf("write view at offset %d: %w", viewOff+int64(k), err)
			}
		}
		return nil
	})
	if err != nil {
		return n, ext, err
	}
	if want < len(p) {
		return n, ext, fmt.Errorf("write view: %d bytes at offset %d run past the end of the view (%d bytes): %w", len(p), off, size, syscall.EFBIG)
	}
	return n, ext, nil
}
