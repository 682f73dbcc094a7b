package remapper

import (
	"errors"
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/nlfs/nlfs/run"
)

// View is one view of a Store: its own address range showing store pages in the order of its
// runs. It is safe for concurrent use; its state is protected by its store's locks.
type View struct {
	s *Store
	// identity: the view follows the store's size (rebuilt as it changes). Protected by s.mu.
	identity bool
	// cur is the mapping in force. Protected by s.mu.
	cur mapping
	// closed: the view was closed (or its store was). Protected by s.mu.
	closed bool
	// layouts counts the layouts put in force (Apply, ApplyIdentity), not the identity's
	// rebuilds as the store's size changes. Protected by s.mu.
	layouts int64
}

// mapping is one built view: its runs and, for the mapping backends, its address range. A
// mapping is immutable once built; swapping replaces the whole value.
type mapping struct {
	backend Backend
	reason  string
	runs    []run.Run // sorted, contiguous from view page 0, adjacent runs not continuing each other
	pages   int64
	base    unsafe.Pointer // start of the mapping; nil for gather or an empty view
	length  uintptr        // bytes mapped at base
}

// unmap releases the mapping's address range. Unmapping whole VMAs needs no new VMA, so this
// does not fail at the VMA limit.
func (m mapping) unmap() {
	if m.base != nil {
		_ = unix.MunmapPtr(m.base, m.length)
	}
}

// NewView makes a view of the store, starting at the identity that follows its size.
func (s *Store) NewView() (*View, error) {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errClosed("new view")
	}
	m, err := s.identityMapping(pagesFor(s.size))
	if err != nil {
		return nil, fmt.Errorf("new view: %w", err)
	}
	v := &View{s: s, identity: true, cur: m}
	s.views = append(s.views, v)
	s.viewsChangedLocked()
	return v, nil
}

// Close unmaps the view and takes it from its store. Calls after Close fail with
// os.ErrClosed.
func (v *View) Close() error {
	s := v.s
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if v.closed {
		return nil
	}
	v.closeLocked()
	for i, w := range s.views {
		if w == v {
			s.views = append(s.views[:i], s.views[i+1:]...)
			break
		}
	}
	s.viewsChangedLocked()
	return nil
}

// closeLocked unmaps the view and marks it closed. Needs s.mu held for writing.
func (v *View) closeLocked() {
	v.closed = true
	v.cur.unmap()
	v.cur = mapping{backend: v.cur.backend, reason: v.cur.reason}
}

// swapLocked puts m in force, with identity saying whether the view now follows the store's
// size, and returns the mapping it replaced, for the caller to unmap (after releasing mu,
// where it can: unmapping a mapping of many VMAs takes a while). Needs s.mu held for writing.
// It is the one place a view's mapping changes.
func (v *View) swapLocked(m mapping, identity bool) (old mapping) {
	old = v.cur
	v.cur, v.identity = m, identity
	v.s.viewsChangedLocked()
	return old
}

// identityMapping builds an identity mapping over pages store pages: one linear MAP_SHARED
// mapping (no page is touched), or none for gather. With Auto, a failing mmap falls back to
// gather. It needs no lock; callers that install the result hold mu.
func (s *Store) identityMapping(pages int64) (mapping, error) {
	b, reason := s.mappingBackend()
	m := mapping{backend: b, reason: reason, pages: pages, runs: run.Identity(pages)}
	if b == Gather || pages == 0 {
		return m, nil
	}
	length := uintptr(pages) * uintptr(pageSize)
	base, err := s.k.Mmap(s.fd, 0, nil, length, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		if s.forced == Auto {
			m.backend, m.reason = Gather, fmt.Sprintf("mmap of the %d-page identity view failed (%v), using gather", pages, err)
			return m, nil
		}
		return mapping{}, fmt.Errorf("map identity view of %d pages: %w", pages, err)
	}
	m.base, m.length = base, length
	return m, nil
}

// normalizeRuns checks that runs are sorted and contiguous from view page 0, and merges runs
// that continue each other. It returns the runs so merged and the view's page count.
//
// Runs that are already normalized (what a parsed layout gives) are returned as they are, not
// copied: a million-run view is 24 MiB.
func normalizeRuns(runs []run.Run) ([]run.Run, int64, error) {
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
	out := make([]run.Run, 0, len(runs))
	for _, r := range runs {
		if n := len(out); n > 0 && out[n-1].File+out[n-1].Count == r.File {
			out[n-1].Count += r.Count
		} else {
			out = append(out, r)
		}
	}
	return out, next, nil
}

// buildMapping builds a mapping for runs with backend b beside the mappings in force. It
// needs no lock and touches no page. On failure nothing is left mapped.
func (s *Store) buildMapping(b Backend, reason string, runs []run.Run, pages int64) (mapping, error) {
	m := mapping{backend: b, reason: reason, runs: runs, pages: pages}
	if b == Gather || pages == 0 {
		return m, nil
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
		if base, err = s.k.Mmap(s.fd, 0, nil, length, rw, unix.MAP_SHARED); err != nil {
			return mapping{}, fmt.Errorf("map %d view pages: %w", pages, err)
		}
		for i, r := range runs {
			if r.File == r.View {
				continue
			}
			err := s.k.RemapFilePages(uintptr(base)+uintptr(r.View*pageSize), uintptr(r.Count*pageSize), 0, uintptr(r.File), unix.MAP_NONBLOCK)
			if err != nil {
				_ = unix.MunmapPtr(base, length)
				return mapping{}, fmt.Errorf("remap view page %d (run %d of %d: %d pages from store page %d): %w",
					r.View, i+1, len(runs), r.Count, r.File, err)
			}
		}
	case MMap:
		// Reserve the range, then map each run over it.
		base, err = s.k.Mmap(-1, 0, nil, length, unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
		if err != nil {
			return mapping{}, fmt.Errorf("reserve %d view pages: %w", pages, err)
		}
		for i, r := range runs {
			_, err := s.k.Mmap(s.fd, r.File*pageSize, unsafe.Add(base, r.View*pageSize), uintptr(r.Count*pageSize), rw, unix.MAP_SHARED|unix.MAP_FIXED)
			if err != nil {
				_ = unix.MunmapPtr(base, length)
				return mapping{}, fmt.Errorf("mmap view page %d (run %d of %d: %d pages from store page %d): %w",
					r.View, i+1, len(runs), r.Count, r.File, err)
			}
		}
	default:
		return mapping{}, fmt.Errorf("backend %q cannot build a view", b)
	}
	m.base, m.length = base, length
	return m, nil
}

// Apply makes the view show runs: sorted, contiguous from view page 0, their counts adding up
// to the view's pages (no runs: an empty view). The view is pinned: it no longer follows the
// store's size. Runs may reference store pages past the end of the store (those read as zeros
// and refuse writes); the caller decides whether to allow that. The view may keep runs itself
// (when no two of them continue each other): the caller must not modify them afterwards.
//
// Apply is atomic: the new mapping is built beside the old one without holding mu, then
// swapped in under mu, then the old one is unmapped. If anything fails, Apply returns the
// error and the previous mapping stays in force, intact. With Auto, a layout whose runs exceed
// the VMA budget (shared by every view of the store) is served by gather, as is one whose
// mapping runs into ENOMEM anyway.
func (v *View) Apply(runs []run.Run) error {
	norm, pages, err := normalizeRuns(runs)
	if err != nil {
		return fmt.Errorf("apply layout: %w", err)
	}
	return v.install(func(s *Store) (mapping, error) { return s.buildFor(norm, pages) }, false)
}

// ApplyIdentity makes the view the identity that follows the store's size: one run over all
// store pages, rebuilt whenever the store's page count changes.
func (v *View) ApplyIdentity() error {
	return v.install(nil, true)
}

// install builds a new mapping with build (nil: the identity over the store's pages at the
// moment of the swap) and puts it in force. It holds applyMu throughout and mu only for the
// swap (and, for the identity, the build: its size must not change before the swap).
func (v *View) install(build func(*Store) (mapping, error), identity bool) error {
	s := v.s
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	s.applying.Add(1)
	defer s.applying.Add(-1)
	s.mu.RLock()
	closed := v.closed
	s.mu.RUnlock()
	if closed { // closing takes applyMu, so this cannot change until we return
		return errClosed("apply layout")
	}
	var m mapping
	var err error
	if build != nil {
		if m, err = build(s); err != nil {
			return err
		}
	}
	s.mu.Lock()
	if identity {
		if m, err = s.identityMapping(pagesFor(s.size)); err != nil {
			s.mu.Unlock()
			return fmt.Errorf("apply identity: %w", err)
		}
	}
	old := v.swapLocked(m, identity)
	v.layouts++
	s.mu.Unlock()
	old.unmap()
	return nil
}

// buildFor builds the mapping for a normalized layout: the backend chosen for its runs, with
// the fallbacks Auto allows. Needs applyMu held.
func (s *Store) buildFor(norm []run.Run, pages int64) (mapping, error) {
	b, reason, err := s.chooseBackend(int64(len(norm)))
	if err != nil {
		return mapping{}, fmt.Errorf("apply layout: %w", err)
	}
	m, err := s.buildMapping(b, reason, norm, pages)
	if err != nil && s.forced == Auto && b == Remap && (errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.EPERM)) {
		// remap_file_pages worked at the probe but is refused now (a seccomp filter installed
		// since): mmap builds the same view without it.
		m, err = s.buildMapping(MMap, fmt.Sprintf("remap_file_pages refused (%v), using mmap", err), norm, pages)
		b = MMap
	}
	if err != nil {
		if s.forced != Auto || !errors.Is(err, syscall.ENOMEM) {
			return mapping{}, fmt.Errorf("apply layout: %w", err)
		}
		m = mapping{backend: Gather, runs: norm, pages: pages,
			reason: fmt.Sprintf("%s failed with %d runs (%v), using gather", b, len(norm), err)}
	}
	return m, nil
}

// ViewPages returns the number of pages of the view.
func (v *View) ViewPages() int64 {
	v.s.mu.RLock()
	defer v.s.mu.RUnlock()
	return v.cur.pages
}

// ViewSize returns ViewPages*PageSize.
func (v *View) ViewSize() int64 { return v.ViewPages() * pageSize }

// Identity reports whether the view is the identity that follows the store's size.
func (v *View) Identity() bool {
	v.s.mu.RLock()
	defer v.s.mu.RUnlock()
	return v.identity
}

// Runs returns the runs in force (for the identity: one run over the store, or none when the
// store is empty). Runs that continue each other are merged. The slice is the view's own,
// shared and never modified (a new layout gets a new slice): callers must not modify it
// either. Not copying it matters for a million-run view (24 MiB).
func (v *View) Runs() []run.Run {
	v.s.mu.RLock()
	defer v.s.mu.RUnlock()
	return v.cur.runs
}

// State is what a view shows at one moment, read in one step.
type State struct {
	Runs     []run.Run // as Runs returns them: shared, never modified
	Pages    int64     // the view's size in pages
	Identity bool      // the identity that follows the store's size
	Layouts  int64     // layouts put in force so far
}

// State returns the view's state: its runs, size, mode and layout count together, so that
// none of them can belong to another layout than the others.
func (v *View) State() State {
	s := v.s
	s.mu.RLock()
	defer s.mu.RUnlock()
	return State{Runs: v.cur.runs, Pages: v.cur.pages, Identity: v.identity, Layouts: v.layouts}
}

// Closed reports whether the view was closed.
func (v *View) Closed() bool {
	v.s.mu.RLock()
	defer v.s.mu.RUnlock()
	return v.closed
}

// Store returns the store the view shows.
func (v *View) Store() *Store { return v.s }
