package remapper

import (
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// vmaMargin is the number of VMAs left to the rest of the process (Go runtime, libraries,
// other mappings made while a layout is built) when deciding whether a layout fits.
const vmaMargin = 1024

// maxPages is the largest page count whose byte size fits an int64.
var maxPages = math.MaxInt64 / pageSize

// Mapper owns the store (a memfd, opened read-write, sized in whole pages) and the view over
// it. It is safe for concurrent use.
//
// Lock order: applyMu, then mu.
//
//   - applyMu serializes layout changes (Apply, ApplyIdentity, Close). Apply builds the new
//     view beside the old one while holding only applyMu, so reads and writes go on meanwhile.
//   - mu protects the store size and the view in force. ReadData, ReadView, Runs, Status,
//     MapsLines and the size getters hold it for reading; so does a Lease (ViewSlices,
//     DataSlices) until it is released. WriteData, WriteView, Truncate, and the swap of a new
//     view hold it for writing, so a reader never sees a half-written page or a half-installed
//     view, and the store never shrinks or moves under a reader (that is what keeps the mapper
//     from touching a page past the end of the store, i.e. from SIGBUS).
//
// Methods named ...Locked must be called with mu held for writing.
type Mapper struct {
	// Immutable after New.
	fd          int     // the store memfd, read-write
	forced      Backend // Options.Backend (Auto unless forced)
	mapped      Backend // the mapping backend Auto uses: Remap if the probe worked, else MMap
	probeReason string  // why mapped was chosen

	applyMu sync.Mutex // serializes layout changes; taken before mu

	// kick wakes the prefaulter (prefault_linux.go); quit, closed by Close, stops it.
	kick, quit chan struct{}
	// applying is non-zero while Apply builds a view: the prefaulter, which would only
	// compete with it for the address space lock, stands aside.
	applying atomic.Int32

	mu   sync.RWMutex
	size int64 // logical store size in bytes; protected by mu
	// store is a linear MAP_SHARED mapping of the memfd from offset 0, storeLen bytes long:
	// at least the memfd's size, the part past it reserved for growth and never touched.
	// Data reads and gather views are served from it. Protected by mu.
	store    unsafe.Pointer
	storeLen uintptr
	// written holds the store pages written since the store last shrank below them: they
	// exist in the memfd, and every other page is a hole or was only ever read (zeros).
	// Writes to them need no allocation; reads of the others are zeros without touching
	// them (touching a hole through a shared mapping would allocate it). Protected by mu.
	written  pageSet
	identity bool   // the view follows the store's size; protected by mu
	gen      uint64 // views put in force so far; protected by mu
	view     view   // the view in force; protected by mu
	closed   bool   // protected by mu
}

// view is one built view: its runs and, for the mapping backends, its address range.
// A view is immutable once built; swapping views replaces the whole value.
type view struct {
	backend Backend
	reason  string
	runs    []Run // sorted, contiguous from view page 0, adjacent runs not continuing each other
	pages   int64
	base    unsafe.Pointer // start of the mapping; nil for gather or an empty view
	length  uintptr        // bytes mapped at base
}

// New creates a Mapper with an empty store and the identity view. With Auto (or Remap) it
// probes remap_file_pages on a scratch mapping; a forced Remap fails here if the call does not
// work on this system.
func New(opts Options) (*Mapper, error) {
	b := opts.Backend
	if b == "" {
		b = Auto
	}
	if _, err := ParseBackend(string(b)); err != nil {
		return nil, err
	}
	fd, err := unix.MemfdCreate("nlfs-data", unix.MFD_CLOEXEC|unix.MFD_NOEXEC_SEAL)
	if err == unix.EINVAL { // kernels before 6.3 do not know MFD_NOEXEC_SEAL
		fd, err = unix.MemfdCreate("nlfs-data", unix.MFD_CLOEXEC)
	}
	if err != nil {
		return nil, fmt.Errorf("create store: memfd_create: %w", err)
	}
	m := &Mapper{fd: fd, forced: b, identity: true, kick: make(chan struct{}, 1), quit: make(chan struct{})}
	if m.store, m.storeLen, err = mapStore(fd, 0, 0); err != nil {
		unix.Close(fd)
		return nil, err
	}
	switch b {
	case Auto, Remap:
		if err := probe(fd); err != nil {
			if b == Remap {
				_ = munmapPtr(m.store, m.storeLen)
				unix.Close(fd)
				return nil, fmt.Errorf("backend remap: remap_file_pages does not work here; use --backend auto or mmap: %w", err)
			}
			m.mapped, m.probeReason = MMap, fmt.Sprintf("probe: remap_file_pages failed (%v), using mmap", err)
		} else {
			m.mapped, m.probeReason = Remap, "probe: remap_file_pages works"
		}
	case MMap:
		m.mapped = MMap
	}
	m.view, err = m.identityView(0)
	if err != nil {
		_ = munmapPtr(m.store, m.storeLen)
		unix.Close(fd)
		return nil, err
	}
	go m.prefaulter()
	return m, nil
}

// minStoreLen is the address space the store mapping starts with. Only address space: pages
// past the end of the memfd are never touched, and a shared file mapping reserves no memory.
const minStoreLen = 1 << 30

// mapStore returns a linear mapping of the store big enough for need bytes, growing
// geometrically from old so that a store written in small pieces is remapped rarely.
func mapStore(fd int, need, old uintptr) (unsafe.Pointer, uintptr, error) {
	length := max(need, 2*old, minStoreLen)
	length = (length + uintptr(pageSize) - 1) &^ (uintptr(pageSize) - 1)
	base, err := mmapPtr(fd, 0, nil, length, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, 0, fmt.Errorf("map store (%d bytes of address space): %w", length, err)
	}
	return base, length, nil
}

// probe calls remap_file_pages once on a scratch two-page mapping of the (empty) store. The
// pages lie past EOF and are never touched.
func probe(fd int) error {
	ps := uintptr(pageSize)
	base, err := mmapPtr(fd, 0, nil, 2*ps, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("scratch mapping: %w", err)
	}
	defer munmapPtr(base, 2*ps)
	return remapFilePages(uintptr(base), ps, 0, 1, unix.MAP_NONBLOCK)
}

// Close unmaps the view and closes the store. Calls after Close fail with os.ErrClosed.
func (m *Mapper) Close() error {
	m.applyMu.Lock()
	defer m.applyMu.Unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	close(m.quit)
	unmapView(m.view)
	_ = munmapPtr(m.store, m.storeLen)
	m.store, m.storeLen = nil, 0
	m.view = view{backend: m.view.backend, reason: m.view.reason}
	m.size = 0
	if err := unix.Close(m.fd); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

func errClosed(op string) error { return fmt.Errorf("%s: %w", op, os.ErrClosed) }

func pagesFor(size int64) int64 { return (size + pageSize - 1) / pageSize }

func unmapView(v view) {
	if v.base != nil {
		// Unmapping whole VMAs needs no new VMA, so this does not fail at the VMA limit.
		_ = munmapPtr(v.base, v.length)
	}
}

// ---- the store ----

// DataSize returns the logical size of the store in bytes.
func (m *Mapper) DataSize() int64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.size
}

// DataPages returns ceil(DataSize/PageSize): the pages of the memfd under the store.
func (m *Mapper) DataPages() int64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return pagesFor(m.size)
}

// ReadData reads the store at off. Unlike io.ReaderAt, the end of the store is not an
// error: a read that runs past it returns the bytes up to it (n < len(p)) with a nil error,
// and a read at or past it returns 0, nil, which is what a FUSE read handler wants. A
// negative offset is an error wrapping syscall.EINVAL.
func (m *Mapper) ReadData(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read data: negative offset %d: %w", off, syscall.EINVAL)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return 0, errClosed("read data")
	}
	if off >= m.size || len(p) == 0 {
		return 0, nil
	}
	n := int(min(int64(len(p)), m.size-off))
	if err := preadFull(m.fd, p[:n], off); err != nil {
		return 0, fmt.Errorf("read data at offset %d: %w", off, err)
	}
	return n, nil
}

// WriteData writes p at off, growing the store as needed (and the view with it if the view
// is the identity). Errors wrap the errno (errors.Is(err, syscall.ENOSPC) holds when tmpfs is
// full); on a short write the store keeps the bytes written, n says how many.
func (m *Mapper) WriteData(p []byte, off int64) (int, error) {
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
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, errClosed("write data")
	}
	old := m.size
	if end > old {
		if err := m.resizeLocked(end); err != nil {
			return 0, fmt.Errorf("write data: grow store to %d bytes: %w", end, err)
		}
	}
	n, err := m.writeStoreLocked(p, off)
	if err != nil {
		// Keep what was written, drop the rest of the growth (all of it when nothing was
		// written: a failed write past the end must not leave a hole behind).
		keep := old
		if n > 0 {
			keep = max(old, off+int64(n))
		}
		if keep != m.size {
			_ = m.resizeLocked(keep)
		}
		return n, fmt.Errorf("write data at offset %d: %w", off+int64(n), err)
	}
	return n, nil
}

// writeStoreLocked writes p at store offset off, inside the store. Pages already written
// exist: they are copied into through the store mapping, with no system call and no
// allocation (about five times faster than pwrite into tmpfs, and what makes a FUSE write of
// data near tmpfs speed). The others (growth, holes left by a growing truncate) are written
// with pwrite, which allocates them and reports a store that cannot grow as an error
// (ENOSPC, ENOMEM) where a fault on the mapping would invoke the OOM killer. It returns the
// bytes written before any error. Needs mu held for writing.
func (m *Mapper) writeStoreLocked(p []byte, off int64) (int, error) {
	end := off + int64(len(p))
	n := 0
	for cur := off; cur < end; {
		spanEnd, in := m.written.span(cur/pageSize, pagesFor(end))
		stop := min(end, spanEnd*pageSize)
		chunk := p[cur-off : stop-off]
		if in {
			k, err := copyIn(mem(m.store, cur, len(chunk)), chunk)
			n += k
			if err != nil {
				return n, err
			}
		} else {
			k, err := pwriteFull(m.fd, chunk, cur)
			n += k
			if k > 0 {
				m.written.add(cur/pageSize, pagesFor(cur+int64(k)))
				m.poke() // more of the view exists now: map it
			}
			if err != nil {
				return n, err
			}
		}
		cur = stop
	}
	return n, nil
}

// storeExtents calls fn for the pieces of store bytes [off, off+n) in order, each wholly in
// written pages or wholly in pages never written (zeros, possibly holes). Needs mu held.
func (m *Mapper) storeExtents(off int64, n int, fn func(off int64, n int, written bool)) {
	end := off + int64(n)
	for off < end {
		spanEnd, in := m.written.span(off/pageSize, pagesFor(end))
		stop := min(end, spanEnd*pageSize)
		fn(off, int(stop-off), in)
		off = stop
	}
}

// Truncate sets the store's size. Bytes past an unaligned size in the last page read as
// zeros, and growing the store shows zeros; views over removed pages read as zeros.
func (m *Mapper) Truncate(size int64) error {
	if size < 0 {
		return fmt.Errorf("truncate data: negative size %d: %w", size, syscall.EINVAL)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errClosed("truncate data")
	}
	if err := m.resizeLocked(size); err != nil {
		return fmt.Errorf("truncate data to %d bytes: %w", size, err)
	}
	return nil
}

// resizeLocked sets the store's size to size. The memfd is first cut to the smaller of the
// old and new sizes (which zeroes the rest of that last page: bytes written through the view
// past the old size are not data and must not reappear) and then set to whole pages. An
// identity view is rebuilt to the new page count; the new mapping is made first, so a failure
// changes nothing.
func (m *Mapper) resizeLocked(size int64) error {
	if size > maxPages*pageSize {
		return fmt.Errorf("size %d too large: %w", size, syscall.EFBIG)
	}
	newPages := pagesFor(size)
	var nv view
	rebuild := m.identity && newPages != m.view.pages
	if rebuild {
		var err error
		if nv, err = m.identityView(newPages); err != nil {
			return err
		}
	}
	// A store outgrowing its mapping gets a bigger one, made before anything changes.
	var newStore unsafe.Pointer
	var newStoreLen uintptr
	if need := uintptr(newPages) * uintptr(pageSize); need > m.storeLen {
		var err error
		if newStore, newStoreLen, err = mapStore(m.fd, need, m.storeLen); err != nil {
			unmapView(nv)
			return err
		}
	}
	undo := func() {
		unmapView(nv)
		if newStore != nil {
			_ = munmapPtr(newStore, newStoreLen)
		}
	}
	lo := min(m.size, size)
	if err := unix.Ftruncate(m.fd, lo); err != nil {
		undo()
		return fmt.Errorf("ftruncate store to %d bytes: %w", lo, err)
	}
	if err := unix.Ftruncate(m.fd, newPages*pageSize); err != nil {
		// Only growth can realistically fail here; put the store back to whole pages.
		m.size = lo
		m.written.removeFrom(pagesFor(lo))
		_ = unix.Ftruncate(m.fd, pagesFor(lo)*pageSize)
		undo()
		return fmt.Errorf("ftruncate store to %d pages: %w", newPages, err)
	}
	m.size = size
	m.written.removeFrom(pagesFor(lo))
	if newStore != nil {
		_ = munmapPtr(m.store, m.storeLen)
		m.store, m.storeLen = newStore, newStoreLen
	}
	if rebuild {
		old := m.view
		m.view = nv
		m.viewChangedLocked()
		unmapView(old)
	}
	return nil
}

// ---- the view ----

// identityView builds an identity view over pages store pages: one linear MAP_SHARED
// mapping (no page is touched), or none for gather. With Auto, a failing mmap falls back to
// gather. It needs no lock; callers that install the result hold mu.
func (m *Mapper) identityView(pages int64) (view, error) {
	b, reason := m.mappingBackend()
	v := view{backend: b, reason: reason, pages: pages}
	if pages > 0 {
		v.runs = []Run{{View: 0, File: 0, Count: pages}}
	}
	if b == Gather || pages == 0 {
		return v, nil
	}
	length := uintptr(pages) * uintptr(pageSize)
	base, err := mmapPtr(m.fd, 0, nil, length, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		if m.forced == Auto {
			v.backend, v.reason = Gather, fmt.Sprintf("mmap of the %d-page identity view failed (%v), using gather", pages, err)
			return v, nil
		}
		return view{}, fmt.Errorf("map identity view of %d pages: %w", pages, err)
	}
	v.base, v.length = base, length
	return v, nil
}

// mappingBackend returns the backend used for a view that fits the VMA budget, and why.
func (m *Mapper) mappingBackend() (Backend, string) {
	if m.forced != Auto {
		return m.forced, "forced by --backend " + string(m.forced)
	}
	return m.mapped, m.probeReason
}

// vmaBudget returns how many VMAs a new view may use: vm.max_map_count minus the VMAs the
// process holds now (which include the view in force: old and new views both exist during
// the swap) minus a safety margin.
func vmaBudget() (budget int64, detail string, err error) {
	maxCount, err := readMaxMapCount()
	if err != nil {
		return 0, "", fmt.Errorf("read vm.max_map_count: %w", err)
	}
	inUse, err := countVMAs()
	if err != nil {
		return 0, "", fmt.Errorf("count VMAs in /proc/self/maps: %w", err)
	}
	budget = max(0, maxCount-inUse-vmaMargin)
	detail = fmt.Sprintf("vm.max_map_count %d - %d VMAs in use - margin %d", maxCount, inUse, vmaMargin)
	return budget, detail, nil
}

// chooseBackend picks the backend for a layout of nruns runs. A forced mapping backend whose
// layout exceeds the VMA budget is an error, reported before anything is touched.
func (m *Mapper) chooseBackend(nruns int64) (Backend, string, error) {
	b, reason := m.mappingBackend()
	if b == Gather || nruns == 0 {
		return b, reason, nil
	}
	budget, detail, err := vmaBudget()
	if err != nil {
		if m.forced == Auto {
			return Gather, fmt.Sprintf("cannot budget VMAs (%v), using gather", err), nil
		}
		return "", "", err
	}
	if nruns <= budget {
		return b, reason, nil
	}
	if m.forced == Auto {
		return Gather, fmt.Sprintf("runs %d exceed the VMA budget %d (%s)", nruns, budget, detail), nil
	}
	return "", "", fmt.Errorf("backend %s: the layout needs %d VMAs (one per run) but the VMA budget is %d (%s); use --backend auto or gather: %w",
		b, nruns, budget, detail, syscall.ENOMEM)
}

// normalizeRuns checks that runs are sorted and contiguous from view page 0, and merges runs
// that continue each other. It returns the runs so merged and the view's page count.
//
// Runs that are already normalized (what a parsed layout gives) are returned as they are, not
// copied: a million-run view is 24 MiB.
func normalizeRuns(runs []Run) ([]Run, int64, error) {
	var out []Run
	merged := false
	var next int64
	for i, r := range runs {
		switch {
		case r.Count <= 0:
			return nil, 0, fmt.Errorf("run %d (view page %d): count %d is not positive: %w", i, r.View, r.Count, syscall.EINVAL)
		case r.View != next:
			return nil, 0, fmt.Errorf("run %d starts at view page %d, want %d (runs must be sorted and contiguous from view page 0): %w", i, r.View, next, syscall.EINVAL)
		case r.File < 0:
			return nil, 0, fmt.Errorf("run %d (view page %d): negative store page %d: %w", i, r.View, r.File, syscall.EINVAL)
		case r.Count > maxPages-next:
			return nil, 0, fmt.Errorf("run %d (view page %d): the view would exceed %d pages: %w", i, r.View, maxPages, syscall.EFBIG)
		case r.File > maxPages-r.Count:
			return nil, 0, fmt.Errorf("run %d (view page %d): store page %d is out of range: %w", i, r.View, r.File, syscall.EINVAL)
		}
		if i > 0 && runs[i-1].File+runs[i-1].Count == r.File {
			merged = true
		}
		next += r.Count
	}
	if !merged {
		return runs[:len(runs):len(runs)], next, nil
	}
	out = make([]Run, 0, len(runs))
	for _, r := range runs {
		if n := len(out); n > 0 && out[n-1].File+out[n-1].Count == r.File {
			out[n-1].Count += r.Count
		} else {
			out = append(out, r)
		}
	}
	return out, next, nil
}

// buildView builds a view for runs with backend b beside the view in force. It needs no lock
// and touches no page. On failure nothing is left mapped.
func (m *Mapper) buildView(b Backend, reason string, runs []Run, pages int64) (view, error) {
	v := view{backend: b, reason: reason, runs: runs, pages: pages}
	if b == Gather || pages == 0 {
		return v, nil
	}
	const rw = unix.PROT_READ | unix.PROT_WRITE
	length := uintptr(pages) * uintptr(pageSize)
	var base unsafe.Pointer
	var err error
	switch b {
	case Remap:
		// One linear mapping of the store (it may extend past EOF: those pages are never
		// touched), then one remap_file_pages per run not already in place. MAP_NONBLOCK
		// keeps the kernel from populating the pages.
		if base, err = mmapPtr(m.fd, 0, nil, length, rw, unix.MAP_SHARED); err != nil {
			return view{}, fmt.Errorf("map %d view pages: %w", pages, err)
		}
		for i, r := range runs {
			if r.File == r.View {
				continue
			}
			err := remapFilePages(uintptr(base)+uintptr(r.View*pageSize), uintptr(r.Count*pageSize), 0, uintptr(r.File), unix.MAP_NONBLOCK)
			if err != nil {
				_ = munmapPtr(base, length)
				return view{}, fmt.Errorf("remap view page %d (run %d of %d: %d pages from store page %d): %w",
					r.View, i+1, len(runs), r.Count, r.File, err)
			}
		}
	case MMap:
		// Reserve the range, then map each run over it.
		base, err = mmapPtr(-1, 0, nil, length, unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
		if err != nil {
			return view{}, fmt.Errorf("reserve %d view pages: %w", pages, err)
		}
		for i, r := range runs {
			_, err := mmapPtr(m.fd, r.File*pageSize, unsafe.Add(base, r.View*pageSize), uintptr(r.Count*pageSize), rw, unix.MAP_SHARED|unix.MAP_FIXED)
			if err != nil {
				_ = munmapPtr(base, length)
				return view{}, fmt.Errorf("mmap view page %d (run %d of %d: %d pages from store page %d): %w",
					r.View, i+1, len(runs), r.Count, r.File, err)
			}
		}
	default:
		return view{}, fmt.Errorf("backend %q cannot build a view", b)
	}
	v.base, v.length = base, length
	return v, nil
}

// Apply makes the view show runs: sorted, contiguous from view page 0, their counts adding up
// to the view's pages (no runs: an empty view). The view is pinned: it no longer follows the
// store's size. Runs may reference store pages past the end of the store (those read as zeros
// and refuse writes); the caller decides whether to allow that. The view may keep runs itself
// (when no two of them continue each other): the caller must not modify them afterwards.
//
// Apply is atomic: the new view is built beside the old one without holding mu, then swapped
// in under mu, then the old one is unmapped. If anything fails, Apply returns the error and the
// previous view stays in force, intact. With Auto, a layout whose runs exceed the VMA budget is
// served by gather, as is one whose mapping runs into ENOMEM anyway.
func (m *Mapper) Apply(runs []Run) error {
	norm, pages, err := normalizeRuns(runs)
	if err != nil {
		return fmt.Errorf("apply layout: %w", err)
	}
	m.applyMu.Lock()
	defer m.applyMu.Unlock()
	m.applying.Add(1)
	defer m.applying.Add(-1)
	m.mu.RLock()
	closed := m.closed
	m.mu.RUnlock()
	if closed { // Close takes applyMu, so this cannot change until we return
		return errClosed("apply layout")
	}
	b, reason, err := m.chooseBackend(int64(len(norm)))
	if err != nil {
		return fmt.Errorf("apply layout: %w", err)
	}
	nv, err := m.buildView(b, reason, norm, pages)
	if err != nil && m.forced == Auto && b == Remap && (errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.EPERM)) {
		// remap_file_pages worked at the probe but is refused now (a seccomp filter installed
		// since): mmap builds the same view without it.
		nv, err = m.buildView(MMap, fmt.Sprintf("remap_file_pages refused (%v), using mmap", err), norm, pages)
		b = MMap
	}
	if err != nil {
		if m.forced != Auto || !errors.Is(err, syscall.ENOMEM) {
			return fmt.Errorf("apply layout: %w", err)
		}
		nv = view{backend: Gather, runs: norm, pages: pages,
			reason: fmt.Sprintf("%s failed with %d runs (%v), using gather", b, len(norm), err)}
	}
	m.mu.Lock()
	old := m.view
	m.view, m.identity = nv, false
	m.viewChangedLocked()
	m.mu.Unlock()
	unmapView(old)
	return nil
}

// ApplyIdentity makes the view the identity that follows the store's size: one run over all
// store pages, rebuilt whenever the store's page count changes.
func (m *Mapper) ApplyIdentity() error {
	m.applyMu.Lock()
	defer m.applyMu.Unlock()
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return errClosed("apply identity")
	}
	nv, err := m.identityView(pagesFor(m.size))
	if err != nil {
		m.mu.Unlock()
		return fmt.Errorf("apply identity: %w", err)
	}
	old := m.view
	m.view, m.identity = nv, true
	m.viewChangedLocked()
	m.mu.Unlock()
	unmapView(old)
	return nil
}

// ViewPages returns the number of pages of the view.
func (m *Mapper) ViewPages() int64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.view.pages
}

// ViewSize returns ViewPages*PageSize.
func (m *Mapper) ViewSize() int64 { return m.ViewPages() * pageSize }

// Runs returns the runs in force (for the identity: one run over the store, or none when the
// store is empty). Runs that continue each other are merged. The slice is the view's own,
// shared and never modified (a new layout gets a new slice): callers must not modify it
// either. Not copying it matters for a million-run view (24 MiB).
func (m *Mapper) Runs() []Run {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.view.runs
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
// the first error. The range must lie inside the view. Needs mu held (read or write).
func (m *Mapper) walkLocked(off int64, n int, fn func(segment) error) error {
	runs := m.view.runs
	storeEnd := pagesFor(m.size) * pageSize
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

// ReadView reads the view at off. View pages whose store page is at or past the end of the
// store read as zeros (never SIGBUS). As with ReadData, the end of the view is not an error:
// a read running past it returns the bytes up to it (n < len(p)) with a nil error, and a
// read at or past it returns 0, nil.
func (m *Mapper) ReadView(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read view: negative offset %d: %w", off, syscall.EINVAL)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return 0, errClosed("read view")
	}
	size := m.view.pages * pageSize
	if off >= size || len(p) == 0 {
		return 0, nil
	}
	n := int(min(int64(len(p)), size-off))
	base := m.view.base
	_ = m.walkLocked(off, n, func(s segment) error {
		dst := p[s.buf : s.buf+s.n]
		switch {
		case !s.inStore:
			clear(dst)
		default: // from the view mapping, or the store mapping for gather; unwritten pages as zeros
			m.storeExtents(s.storeOff, s.n, func(off int64, n int, written bool) {
				d := dst[off-s.storeOff : off-s.storeOff+int64(n)]
				switch {
				case !written:
					clear(d)
				case base != nil:
					copy(d, mem(base, s.viewOff+off-s.storeOff, n))
				default:
					copy(d, mem(m.store, off, n))
				}
			})
		}
		return nil
	})
	return n, nil
}

// WriteView writes p at off through the view: the bytes land in the store page shown there
// (and show at every other view page that shows that page). A write that reaches a view page
// whose store page is at or past the end of the store stops there with an error wrapping
// syscall.ENXIO; one that reaches the end of the view stops there with an error wrapping
// syscall.EFBIG. In both cases n says how many bytes before that point were written. Bytes
// written past the store's size inside its last page show in the view but are not data: they
// do not change DataSize and are zeroed if the store grows.
func (m *Mapper) WriteView(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("write view: negative offset %d: %w", off, syscall.EINVAL)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, errClosed("write view")
	}
	size := m.view.pages * pageSize
	if off >= size && len(p) > 0 {
		return 0, fmt.Errorf("write view: offset %d is at or past the end of the view (%d bytes): %w", off, size, syscall.EFBIG)
	}
	n := int(min(int64(len(p)), size-off))
	written := 0
	base := m.view.base
	err := m.walkLocked(off, n, func(s segment) error {
		if !s.inStore {
			return fmt.Errorf("write view: view page %d shows store page %d, past the end of data (%d pages): %w",
				s.viewOff/pageSize, s.storeOff/pageSize, pagesFor(m.size), syscall.ENXIO)
		}
		src := p[s.buf : s.buf+s.n]
		if base != nil && m.written.all(s.storeOff/pageSize, pagesFor(s.storeOff+int64(s.n))) {
			// Through the nonlinear mapping itself, into pages that exist.
			written += copy(mem(base, s.viewOff, s.n), src)
			return nil
		}
		// Gather, or pages that may not exist yet: into the store (see writeStoreLocked).
		k, err := m.writeStoreLocked(src, s.storeOff)
		written += k
		if err != nil {
			return fmt.Errorf("write view at offset %d: %w", s.viewOff+int64(k), err)
		}
		return nil
	})
	if err != nil {
		return written, err
	}
	if n < len(p) {
		return written, fmt.Errorf("write view: %d bytes at offset %d run past the end of the view (%d bytes): %w", len(p), off, size, syscall.EFBIG)
	}
	return written, nil
}

// Status reports the view in force.
func (m *Mapper) Status() Status {
	m.mu.RLock()
	defer m.mu.RUnlock()
	st := Status{
		Backend:   m.view.backend,
		Reason:    m.view.reason,
		Runs:      int64(len(m.view.runs)),
		ViewPages: m.view.pages,
		DataBytes: m.size,
		ViewAddr:  uintptr(m.view.base),
	}
	if n, err := readMaxMapCount(); err == nil {
		st.MaxMapCount = n
	}
	st.VMAs = int64(len(m.mapsLinesLocked()))
	return st
}

// MapsLines returns the lines of /proc/self/maps that cover the view: the kernel's own record
// of the mapping (none for gather or an empty view).
func (m *Mapper) MapsLines() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.mapsLinesLocked()
}

func (m *Mapper) mapsLinesLocked() []string {
	if m.view.base == nil {
		return nil
	}
	maps, err := readMaps()
	if err != nil {
		return nil
	}
	start := uintptr(m.view.base)
	return mapsLinesIn(maps, start, start+m.view.length)
}
