package remapper

import (
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// maxPages is the largest page count whose byte size fits an int64.
var maxPages = math.MaxInt64 / pageSize

// Store owns the store file (opened read-write, sized in whole pages), a linear mapping of it,
// and the views over it. It is safe for concurrent use.
//
// Lock order: applyMu, then mu.
//
//   - applyMu serializes changes to the set of mappings: layouts applied to any view, views
//     made and closed, Close. A view's new mapping is built beside the old one while holding
//     only applyMu, so reads and writes go on meanwhile; serializing all views keeps the VMA
//     budget, which they share, honest.
//   - mu protects the store's size, its mapping, the written pages, and every view's mapping
//     in force. Reads (ReadData, ReadView, a Lease until it is released, Runs, Status,
//     MapsLines, the size getters) hold it for reading. Writes, truncates and the swap of a
//     view's mapping hold it for writing, so a reader never sees a half-written page or a
//     half-installed view, and the store never shrinks or moves under a reader (that is what
//     keeps a view from touching a page past the end of the store, i.e. from SIGBUS).
//
// Methods named ...Locked must be called with mu held (for writing where they change state).
type Store struct {
	// Immutable after NewStore.
	fd          int     // the store file, read-write
	path        string  // the named file, "" for a memfd
	created     bool    // the named file was created by NewStore
	onTmpfs     bool    // the file lives in memory (a memfd, or a file on tmpfs)
	limit       int64   // bound on the store's pages in memory (Options.SizeLimit in pages); 0: none
	forced      Backend // Options.Backend (Auto unless forced)
	mapped      Backend // the mapping backend Auto uses: Remap if the probe worked, else MMap
	probeReason string  // why mapped was chosen
	k           Kernel  // the kernel's calls (Options.Kernel)

	applyMu sync.Mutex // serializes mapping changes; taken before mu

	// kick wakes the prefaulter (prefault_linux.go); quit, closed by Close, stops it.
	kick, quit chan struct{}
	// applying is non-zero while a view is being built: the prefaulter, which would only
	// compete with the build for the address space lock, stands aside.
	applying atomic.Int32

	mu   sync.RWMutex
	size int64 // logical store size in bytes; protected by mu
	// mem is a linear MAP_SHARED mapping of the file from offset 0, memLen bytes long: at
	// least the file's size, the part past it reserved for growth and never touched. Data
	// reads and gather views are served from it. Protected by mu.
	mem    unsafe.Pointer
	memLen uintptr
	// written holds the store pages written since the store last shrank below them: they
	// exist in the file, and every other page is a hole or was only ever read (zeros).
	// Writes to them need no allocation; reads of the others are zeros without touching
	// them (touching a hole through a shared mapping would allocate it). Protected by mu.
	written pageSet
	views   []*View // the open views; protected by mu
	gen     uint64  // bumped whenever a view's mapping changes; protected by mu
	closed  bool    // protected by mu
}

// NewStore opens the store: a new empty memfd, or the file Options.Path (created empty, mode
// 0600, if it does not exist; its size and bytes are the data if it does). A named file is
// locked for this Store alone (an OFD lock, which the kernel drops when the process dies): a
// second Store of the same file, in any process, fails with an error wrapping
// ErrStoreLocked. With Auto (or Remap) it probes remap_file_pages on a scratch mapping; a
// forced Remap fails here if the call does not work on this system.
func NewStore(opts Options) (*Store, error) {
	b := opts.Backend
	if b == "" {
		b = Auto
	}
	if _, err := ParseBackend(string(b)); err != nil {
		return nil, err
	}
	if opts.SizeLimit < 0 {
		return nil, fmt.Errorf("size limit %d: %w", opts.SizeLimit, syscall.EINVAL)
	}
	s := &Store{path: opts.Path, forced: b, limit: pagesFor(opts.SizeLimit), k: opts.Kernel, kick: make(chan struct{}, 1), quit: make(chan struct{})}
	if s.k == nil {
		s.k = LinuxKernel{}
	}
	if err := s.open(); err != nil {
		return nil, err
	}
	var err error
	if s.mem, s.memLen, err = s.mapStore(uintptr(pagesFor(s.size)*pageSize), 0); err != nil {
		unix.Close(s.fd)
		return nil, err
	}
	switch b {
	case Auto, Remap:
		if err := s.probe(); err != nil {
			if b == Remap {
				_ = unix.MunmapPtr(s.mem, s.memLen)
				unix.Close(s.fd)
				return nil, fmt.Errorf("backend remap: remap_file_pages does not work here; use --backend auto or mmap: %w", err)
			}
			s.mapped, s.probeReason = MMap, fmt.Sprintf("probe: remap_file_pages failed (%v), using mmap", err)
		} else {
			s.mapped, s.probeReason = Remap, "probe: remap_file_pages works"
		}
	case MMap:
		s.mapped = MMap
	}
	go s.prefaulter()
	return s, nil
}

// ErrStoreLocked is what opening a store file that another Store holds fails with.
var ErrStoreLocked = errors.New("the store file is in use by another nlfs daemon")

// open opens (or creates) the store file, locks a named one, and learns its size and which
// of its pages exist.
func (s *Store) open() error {
	if s.path == "" {
		fd, err := unix.MemfdCreate("nlfs-data", unix.MFD_CLOEXEC|unix.MFD_NOEXEC_SEAL)
		if err == unix.EINVAL { // kernels before 6.3 do not know MFD_NOEXEC_SEAL
			fd, err = unix.MemfdCreate("nlfs-data", unix.MFD_CLOEXEC)
		}
		if err != nil {
			return fmt.Errorf("create store: memfd_create: %w", err)
		}
		s.fd, s.onTmpfs = fd, true
		return nil
	}
	fd, err := unix.Open(s.path, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
	s.created = err == nil
	if errors.Is(err, unix.EEXIST) {
		fd, err = unix.Open(s.path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return fmt.Errorf("open store %s: %w", s.path, err)
	}
	fail := func(err error) error {
		unix.Close(fd)
		if s.created {
			unix.Unlink(s.path)
		}
		return err
	}
	lock := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: 0, Len: 0}
	if err := unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &lock); err != nil {
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
			unix.Close(fd) // not ours to remove
			return fmt.Errorf("store %s: %w", s.path, ErrStoreLocked)
		}
		return fail(fmt.Errorf("lock store %s: %w", s.path, err))
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fail(fmt.Errorf("stat store %s: %w", s.path, err))
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fail(fmt.Errorf("store %s is not a regular file: %w", s.path, syscall.EINVAL))
	}
	var fs unix.Statfs_t
	if err := unix.Fstatfs(fd, &fs); err == nil {
		s.onTmpfs = fs.Type == unix.TMPFS_MAGIC
	}
	s.fd, s.size = fd, st.Size
	if err := s.findWritten(); err != nil {
		return fail(err)
	}
	return nil
}

// findWritten fills the written set of a store opened from a file with the pages the file
// holds data in (SEEK_DATA and SEEK_HOLE: a sparse file keeps its holes). A file system that
// cannot tell says every page is data.
func (s *Store) findWritten() error {
	end := s.size
	for off := int64(0); off < end; {
		data, err := unix.Seek(s.fd, off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			return nil // only a hole is left
		}
		if err != nil {
			s.written.add(0, pagesFor(end)) // no SEEK_DATA here: assume all of it is data
			return nil
		}
		hole, err := unix.Seek(s.fd, data, unix.SEEK_HOLE)
		if err != nil {
			hole = end
		}
		s.written.add(data/pageSize, pagesFor(min(hole, end)))
		off = hole
	}
	return nil
}

// Path is the store's file, "" for a memfd.
func (s *Store) Path() string { return s.path }

// Created reports whether NewStore created the named file.
func (s *Store) Created() bool { return s.created }

// OnTmpfs reports whether the store lives in memory (tmpfs), as it should.
func (s *Store) OnTmpfs() bool { return s.onTmpfs }

// SizeLimit is the bound on the store's memory in bytes, 0 for none.
func (s *Store) SizeLimit() int64 { return s.limit * pageSize }

// minStoreLen is the address space the store mapping starts with. Only address space: pages
// past the end of the file are never touched, and a shared file mapping reserves no memory.
const minStoreLen = 1 << 30

// mapStore returns a linear mapping of the store big enough for need bytes, growing
// geometrically from old so that a store written in small pieces is remapped rarely.
func (s *Store) mapStore(need, old uintptr) (unsafe.Pointer, uintptr, error) {
	length := max(need, 2*old, minStoreLen)
	length = (length + uintptr(pageSize) - 1) &^ (uintptr(pageSize) - 1)
	base, err := s.k.Mmap(s.fd, 0, nil, length, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, 0, fmt.Errorf("map store (%d bytes of address space): %w", length, err)
	}
	return base, length, nil
}

// Close unmaps every view and the store, and closes the store file. Calls after Close fail
// with os.ErrClosed.
func (s *Store) Close() error {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	close(s.quit)
	for _, v := range s.views {
		v.closeLocked()
	}
	s.views = nil
	_ = unix.MunmapPtr(s.mem, s.memLen)
	s.mem, s.memLen = nil, 0
	s.size = 0
	if err := unix.Close(s.fd); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

func errClosed(op string) error { return fmt.Errorf("%s: %w", op, os.ErrClosed) }

func pagesFor(size int64) int64 { return (size + pageSize - 1) / pageSize }

// DataSize returns the logical size of the store in bytes.
func (s *Store) DataSize() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.size
}

// DataPages returns ceil(DataSize/PageSize): the pages of the file under the store.
func (s *Store) DataPages() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return pagesFor(s.size)
}

// WriteData writes p at off, growing the store as needed (and every identity view with it).
// Errors wrap the errno (errors.Is(err, syscall.ENOSPC) holds when the store is full); on a
// short write the store keeps the bytes written, n says how many.
func (s *Store) WriteData(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("write data: negative offset %d: %w", off, syscall.EINVAL)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if off > math.MaxInt64-int64(len(p)) {
		return 0, fmt.Errorf("write data: offset %d + %d bytes overflows: %w", off, len(p), syscall.EFBIG)
	}
	end := off + int64(len(p))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, errClosed("write data")
	}
	old := s.size
	if end > old {
		if err := s.resizeLocked(end); err != nil {
			return 0, fmt.Errorf("write data: grow store to %d bytes: %w", end, err)
		}
	}
	n, err := s.writeLocked(p, off)
	if err != nil {
		// Keep what was written, drop the rest of the growth (all of it when nothing was
		// written: a failed write past the end must not leave a hole behind).
		keep := old
		if n > 0 {
			keep = max(old, off+int64(n))
		}
		if keep != s.size {
			_ = s.resizeLocked(keep)
		}
		return n, fmt.Errorf("write data at offset %d: %w", off+int64(n), err)
	}
	return n, nil
}

// writeLocked writes p at store offset off, inside the store. Pages already written exist:
// they are copied into through the store mapping, with no system call and no allocation
// (about five times faster than pwrite into tmpfs, and what makes a FUSE write of data near
// tmpfs speed). The others (growth, holes left by a growing truncate) are written with
// pwrite, which allocates them and reports a store that cannot grow as an error (ENOSPC,
// ENOMEM) where a fault on the mapping would raise SIGBUS or invoke the OOM killer. It
// returns the bytes written before any error. Needs mu held for writing.
func (s *Store) writeLocked(p []byte, off int64) (int, error) {
	end := off + int64(len(p))
	n := 0
	for cur := off; cur < end; {
		spanEnd, in := s.written.span(cur/pageSize, pagesFor(end))
		stop := min(end, spanEnd*pageSize)
		chunk := p[cur-off : stop-off]
		if in {
			k, err := s.k.CopyIn(mem(s.mem, cur, len(chunk)), chunk)
			n += k
			if err != nil {
				return n, err
			}
		} else {
			if fit := s.roomLocked(cur, stop); fit < stop {
				// The pages this needs exceed the size limit: write what fits, then ENOSPC.
				chunk = chunk[:fit-cur]
				k, err := pwriteFull(s.k, s.fd, chunk, cur)
				n += k
				if k > 0 {
					s.written.add(cur/pageSize, pagesFor(cur+int64(k)))
				}
				if err == nil {
					err = fmt.Errorf("the store's size limit is %d pages: %w", s.limit, syscall.ENOSPC)
				}
				return n, err
			}
			k, err := pwriteFull(s.k, s.fd, chunk, cur)
			n += k
			if k > 0 {
				s.written.add(cur/pageSize, pagesFor(cur+int64(k)))
				s.poke() // more of the views exists now: map it
			}
			if err != nil {
				return n, err
			}
		}
		cur = stop
	}
	return n, nil
}

// roomLocked returns how far from cur, at most to stop, a write into pages not yet written may
// go within the size limit (stop when there is no limit or room enough). Needs mu held.
func (s *Store) roomLocked(cur, stop int64) int64 {
	if s.limit == 0 {
		return stop
	}
	first := cur / pageSize
	room := max(0, s.limit-s.written.count())
	if pagesFor(stop)-first <= room {
		return stop
	}
	return max(cur, (first+room)*pageSize)
}

// extentsLocked calls fn for the pieces of store bytes [off, off+n) in order, each wholly in
// written pages or wholly in pages never written (zeros, possibly holes). Needs mu held.
func (s *Store) extentsLocked(off int64, n int, fn func(off int64, n int, written bool)) {
	end := off + int64(n)
	for off < end {
		spanEnd, in := s.written.span(off/pageSize, pagesFor(end))
		stop := min(end, spanEnd*pageSize)
		fn(off, int(stop-off), in)
		off = stop
	}
}

// Truncate sets the store's size. Bytes past an unaligned size in the last page read as
// zeros, and growing the store shows zeros; views over removed pages read as zeros.
func (s *Store) Truncate(size int64) error {
	if size < 0 {
		return fmt.Errorf("truncate data: negative size %d: %w", size, syscall.EINVAL)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed("truncate data")
	}
	if err := s.resizeLocked(size); err != nil {
		return fmt.Errorf("truncate data to %d bytes: %w", size, err)
	}
	return nil
}

// resizeLocked sets the store's size to size: the file's size, exactly (a named store holds
// data's bytes and nothing else). Shrinking drops the pages past the new end and zeroes the
// rest of its last page; growing first zeroes the rest of the old last page (bytes written
// there through a view are not data and must not reappear) and shows zeros. Identity views
// are rebuilt to the new page count; the new mappings are made first, so a failure changes
// nothing. Needs mu held for writing.
func (s *Store) resizeLocked(size int64) error {
	if size > maxPages*pageSize {
		return fmt.Errorf("size %d too large: %w", size, syscall.EFBIG)
	}
	newPages := pagesFor(size)
	// The identity views that change, with their new mappings.
	var rebuilt []*View
	var fresh []mapping
	undoViews := func() {
		for _, m := range fresh {
			m.unmap()
		}
	}
	for _, v := range s.views {
		if !v.identity || v.cur.pages == newPages {
			continue
		}
		m, err := s.identityMapping(newPages)
		if err != nil {
			undoViews()
			return err
		}
		rebuilt, fresh = append(rebuilt, v), append(fresh, m)
	}
	// A store outgrowing its mapping gets a bigger one, made before anything changes.
	var newMem unsafe.Pointer
	var newMemLen uintptr
	if need := uintptr(newPages) * uintptr(pageSize); need > s.memLen {
		var err error
		if newMem, newMemLen, err = s.mapStore(need, s.memLen); err != nil {
			undoViews()
			return err
		}
	}
	undo := func() {
		undoViews()
		if newMem != nil {
			_ = unix.MunmapPtr(newMem, newMemLen)
		}
	}
	if tail := s.size % pageSize; size > s.size && tail != 0 && s.written.has(s.size/pageSize) {
		clear(mem(s.mem, s.size, int(pageSize-tail)))
	}
	if size != s.size {
		if err := unix.Ftruncate(s.fd, size); err != nil {
			undo()
			return fmt.Errorf("ftruncate store to %d bytes: %w", size, err)
		}
	}
	if size < s.size {
		s.written.removeFrom(pagesFor(size))
	}
	s.size = size
	if newMem != nil {
		_ = unix.MunmapPtr(s.mem, s.memLen)
		s.mem, s.memLen = newMem, newMemLen
	}
	for i, v := range rebuilt {
		old := v.swapLocked(fresh[i], true)
		old.unmap()
	}
	return nil
}

// Usage returns the bytes of memory (or disk) the store file holds: its allocated blocks,
// which a sparse store keeps below its size.
func (s *Store) Usage() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0
	}
	var st unix.Stat_t
	if err := unix.Fstat(s.fd, &st); err != nil {
		return 0
	}
	return st.Blocks * 512
}
