// Package engine is one mounted nlfs store and its views, apart from any binding: it loads the
// store, applies layouts (checked by package layout, built by package remapper), keeps each
// view's generation, last error and times, renders what the control files show, and tells
// subscribers of every change (events.go). The FUSE binding (package fs) and the HTTP binding
// (package web) are thin layers over it: the same operation, such as applying a layout or
// drawing the map, is one engine call from either. No FUSE, no HTTP here.
//
// The files: engine.go (the Engine, its store and its registry of views), view.go (one view:
// layouts, reads and writes through it), layoutwriter.go (a layout arriving in pieces, as
// through the layout file), events.go, status.go (the status keys), render.go (map, map.svg,
// vmas).
package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nlfs/nlfs/internal/shellquote"
	"github.com/nlfs/nlfs/layout"
	"github.com/nlfs/nlfs/remapper"
)

// Options configure an Engine.
type Options struct {
	// Pages is the initial store size in pages, used when Source is nil.
	Pages int64
	// Source, if non-nil, is read to its end as the initial content of data, in pieces (so a
	// big file is never held in the heap whole).
	Source io.Reader
	// Progress, if non-nil, is told the bytes of Source loaded so far, now and then.
	Progress func(loaded int64)
	// Layout, if non-nil, is the initial layout text of the main view.
	Layout []byte
	// Backend selects how views are mapped.
	Backend remapper.Backend
	// MaxViewPages bounds every layout; 0 means layout.DefaultMaxViewPages.
	MaxViewPages int64
	// StorePath, if set, is the store's file (--store): created from Pages or Source if it
	// does not exist, else reopened with its bytes and size (Source is then refused), with
	// the layouts of every view saved beside it (persist.go) and resumed.
	StorePath string
	// SizeLimit bounds the memory the store may hold, in bytes (--size); 0 means half of
	// physical memory, as tmpfs.
	SizeLimit int64
	// Holder describes the daemon that holds the store, for the message a second daemon of
	// the same store gets (e.g. "the nlfs daemon 1234 serving '/mnt/v'").
	Holder string
	// Note, if set, is told one-line remarks for the user (a store not on tmpfs, a saved
	// layout that no longer fits).
	Note func(string)
	// ReadOnly refuses every change of the store's bytes or size made through the engine
	// (Writable) once it is set up; layouts still apply, as they change no byte of it. The
	// store's file stays open read-write all the same: remap_file_pages works only on a
	// shared mapping of a file opened read-write, so read-only is the engine's rule, kept in
	// Writable, not the descriptor's.
	ReadOnly bool
	// Kernel makes the store's system calls; nil means the kernel itself. Tests pass one
	// that fails the calls they choose.
	Kernel remapper.Kernel
}

// DefaultSizeLimit is half of physical memory, tmpfs's default size.
func DefaultSizeLimit() int64 {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return 0
	}
	return int64(si.Totalram) * int64(si.Unit) / 2
}

// MainView is the name of the view at the top of the mount.
const MainView = ""

// Engine is one store and its views. It is safe for concurrent use.
//
// Lock order: viewsMu, then a View's applyMu, then a View's mu; the store's own locks are
// taken with any of them held, never the other way round. Events are sent with no lock held.
type Engine struct {
	store        *remapper.Store
	maxViewPages int64
	mounted      time.Time // immutable

	// dataTime is when the store's bytes or size last changed (unix nanoseconds).
	dataTime atomic.Int64

	events events

	viewsMu sync.Mutex
	main    *View            // immutable after New
	named   map[string]*View // the named views; protected by viewsMu

	// webAddr is the live page's address without its token, "" when off. Protected by
	// viewsMu.
	webAddr string

	// keeper, if set, keeps a binding's kernel caches exact around layout changes
	// (SetCacheKeeper).
	keeper atomic.Pointer[CacheKeeper]

	note func(string) // Options.Note, or nothing; immutable

	readOnly bool // Options.ReadOnly; immutable

	// saveMu serializes writes of the saved layouts (persist.go).
	saveMu sync.Mutex
}

// CacheKeeper is what a binding whose files the kernel caches (the FUSE binding) does around a
// layout change. Both run in the goroutine applying the layout, with no lock held, and may
// block there; ctx is the context the caller of the layout change passed in, so that the
// binding can tell whether that caller may wait at all (a FUSE request of a kind the kernel
// holds pages for must not: the binding checks it). The engine's own goroutines pass
// context.Background().
type CacheKeeper interface {
	// BeforeLayout returns once what processes stored through mappings of v has been
	// written back, so that those stores land where the old layout showed them.
	BeforeLayout(ctx context.Context, v *View)
	// AfterLayout returns once the kernel's caches of v show its new layout, so that a
	// reader after the apply returns sees it.
	AfterLayout(ctx context.Context, v *View)
}

// SetCacheKeeper sets (nil: removes) the binding that keeps kernel caches exact.
func (e *Engine) SetCacheKeeper(k CacheKeeper) {
	if k == nil {
		e.keeper.Store(nil)
		return
	}
	e.keeper.Store(&k)
}

// New makes an Engine with its store filled and the main view's initial layout applied.
func New(opts Options) (*Engine, error) {
	limit := opts.SizeLimit
	if limit == 0 {
		limit = DefaultSizeLimit()
	}
	if opts.StorePath != "" {
		// One store, one name: through a symlink it is the file it names (the lock would tell
		// a second daemon, but not who holds it, which its directory of saved state says).
		if real, err := filepath.EvalSymlinks(opts.StorePath); err == nil {
			opts.StorePath = real
		}
	}
	s, err := remapper.NewStore(remapper.Options{Backend: opts.Backend, Path: opts.StorePath, SizeLimit: limit, Kernel: opts.Kernel})
	if errors.Is(err, remapper.ErrStoreLocked) {
		return nil, storeInUse(opts.StorePath)
	}
	if err != nil {
		return nil, err
	}
	e := &Engine{store: s, maxViewPages: opts.MaxViewPages, mounted: time.Now(), named: map[string]*View{}, note: opts.Note, readOnly: opts.ReadOnly}
	if e.maxViewPages <= 0 {
		e.maxViewPages = layout.DefaultMaxViewPages
	}
	if e.note == nil {
		e.note = func(string) {}
	}
	e.dataTime.Store(e.mounted.UnixNano())
	if err := e.setUp(opts); err != nil {
		s.Close()
		if s.Created() {
			e.forget()
		}
		return nil, err
	}
	return e, nil
}

// setUp fills a new store (or takes a reopened one as it is), makes the views, and applies
// their layouts: the saved ones of a reopened store, then Options.Layout for the main view.
func (e *Engine) setUp(opts Options) error {
	s := e.store
	if s.Path() != "" {
		if !s.Created() && opts.Source != nil {
			return fmt.Errorf("store %s exists: its bytes are the data, so it takes no --source (remove it to start over)", shellquote.Quote(s.Path()))
		}
		if !s.OnTmpfs() {
			e.note(fmt.Sprintf("store %s is not on tmpfs: its pages are written back to disk (put it under /dev/shm to keep it in memory)", shellquote.Quote(s.Path())))
		}
		if err := e.claim(opts.Holder); err != nil {
			return err
		}
	}
	if s.Path() == "" || s.Created() {
		if err := e.fill(opts); err != nil {
			return err
		}
	}
	var err error
	if e.main, err = e.newView(MainView); err != nil {
		return err
	}
	if s.Path() != "" && !s.Created() {
		e.resume()
	}
	if opts.Layout != nil {
		if err := e.main.ApplyText(context.Background(), opts.Layout); err != nil {
			return err
		}
	}
	// A new store's views are saved now; a reopened one's saved layouts stay as they are, so
	// that one that could not be resumed (the file shrank) is resumed by a later mount where
	// it fits again, until a layout applied to its view replaces it.
	switch {
	case s.Path() != "" && s.Created():
		e.saveAll()
	case s.Path() != "" && opts.Layout != nil:
		e.save(e.main)
	}
	return nil
}

func (e *Engine) fill(opts Options) error {
	if opts.Source == nil {
		if err := e.store.Truncate(opts.Pages * remapper.PageSize()); err != nil {
			return fmt.Errorf("size store: %w", err)
		}
		return nil
	}
	if err := e.load(opts.Source, opts.Progress); err != nil {
		return fmt.Errorf("load source: %w", err)
	}
	return nil
}

// load writes src into the store from offset 0, a megabyte at a time.
func (e *Engine) load(src io.Reader, progress func(int64)) error {
	buf := make([]byte, 1<<20)
	var off int64
	for {
		n, err := io.ReadFull(src, buf)
		if n > 0 {
			if _, werr := e.store.WriteData(buf[:n], off); werr != nil {
				return werr
			}
			off += int64(n)
			if progress != nil {
				progress(off)
			}
		}
		switch err {
		case nil:
		case io.EOF, io.ErrUnexpectedEOF:
			return nil
		default:
			return err
		}
	}
}

// Close releases the store and every view, once the layouts that layout files' releases
// handed on are applied; a named store is then held by nobody (its daemon file goes).
func (e *Engine) Close() error {
	for _, v := range e.allViews() {
		v.waitLater()
	}
	if e.store.Path() != "" {
		e.release()
	}
	return e.store.Close()
}

// Mounted is when the engine was made: the time of the files that do not change.
func (e *Engine) Mounted() time.Time { return e.mounted }

// DataTime is when data last changed (written through any file, or resized).
func (e *Engine) DataTime() time.Time { return time.Unix(0, e.dataTime.Load()) }

func (e *Engine) touchData() { e.SetDataTime(time.Now()) }

// SetDataTime sets data's time (touch).
func (e *Engine) SetDataTime(t time.Time) { e.dataTime.Store(t.UnixNano()) }

// limits are the bounds a layout written now is checked against.
func (e *Engine) limits() layout.Limits {
	return layout.Limits{DataPages: e.store.DataPages(), MaxViewPages: e.maxViewPages}
}

// ---- views ----

// Main returns the main view (the one at the top of the mount).
func (e *Engine) Main() *View { return e.main }

// View returns the view called name (MainView: the main view).
func (e *Engine) View(name string) (*View, bool) {
	if name == MainView {
		return e.main, true
	}
	e.viewsMu.Lock()
	defer e.viewsMu.Unlock()
	v, ok := e.named[name]
	return v, ok
}

// ViewNames returns the names of the named views, sorted.
func (e *Engine) ViewNames() []string {
	e.viewsMu.Lock()
	defer e.viewsMu.Unlock()
	names := make([]string, 0, len(e.named))
	for n := range e.named {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// validName is what a named view may be called (README.md, "Named views": letters, digits,
// '-', '_', '.'; at most 64 bytes; "." and ".." are directory entries, not names).
var validName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Errors about named views. They wrap the errno a file system reports for them.
var (
	ErrViewName   = fmt.Errorf("a view name is 1 to 64 letters, digits, '-', '_' or '.': %w", syscall.EINVAL)
	ErrViewExists = fmt.Errorf("view exists: %w", syscall.EEXIST)
	ErrNoView     = fmt.Errorf("no such view: %w", syscall.ENOENT)
)

// CreateView makes a named view, starting at the identity that follows the store.
func (e *Engine) CreateView(name string) (*View, error) { return e.createView(name, true) }

// createView is CreateView; save says whether to save the new view's identity (not while
// resuming it, which would replace its saved layout before it is read back).
func (e *Engine) createView(name string, save bool) (*View, error) {
	if !validName.MatchString(name) || name == "." || name == ".." {
		return nil, fmt.Errorf("view %q: %w", name, ErrViewName)
	}
	e.viewsMu.Lock()
	if _, ok := e.named[name]; ok {
		e.viewsMu.Unlock()
		return nil, fmt.Errorf("view %q: %w", name, ErrViewExists)
	}
	v, err := e.newView(name)
	if err == nil {
		e.named[name] = v
	}
	e.viewsMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("view %q: %w", name, err)
	}
	if save {
		e.save(v)
	}
	e.events.send(Event{Kind: ViewCreated, View: name})
	return v, nil
}

// RemoveView removes a named view.
func (e *Engine) RemoveView(name string) error {
	e.viewsMu.Lock()
	v, ok := e.named[name]
	if ok {
		delete(e.named, name)
	}
	e.viewsMu.Unlock()
	if !ok {
		return fmt.Errorf("view %q: %w", name, ErrNoView)
	}
	if err := v.rv.Close(); err != nil {
		return fmt.Errorf("view %q: %w", name, err)
	}
	e.unsave(name)
	e.events.send(Event{Kind: ViewRemoved, View: name})
	return nil
}

func (e *Engine) newView(name string) (*View, error) {
	rv, err := e.store.NewView()
	if err != nil {
		return nil, err
	}
	v := &View{e: e, name: name, rv: rv, layoutTime: e.mounted}
	v.laterDone.L = &v.mu
	return v, nil
}

// allViews returns the main view and the named ones.
func (e *Engine) allViews() []*View {
	e.viewsMu.Lock()
	defer e.viewsMu.Unlock()
	vs := make([]*View, 0, 1+len(e.named))
	vs = append(vs, e.main)
	for _, v := range e.named {
		vs = append(vs, v)
	}
	return vs
}

// SetWebAddress records the live page's address (without its token) for status; "" when off.
func (e *Engine) SetWebAddress(addr string) {
	e.viewsMu.Lock()
	defer e.viewsMu.Unlock()
	e.webAddr = addr
}

// ---- data ----

// PageSize is the size of a page, the unit of every layout, in bytes.
func PageSize() int64 { return remapper.PageSize() }

// Extent is a byte range of a file.
type Extent = remapper.Extent

// Lease lends out bytes of the store or a view for one read, straight from the live mapping,
// until Release: no layout change, write or truncate can change them meanwhile (see
// remapper.Lease for the rules: Release exactly once, never write to Bufs).
type Lease = remapper.Lease

// DataSize returns the store's size in bytes.
func (e *Engine) DataSize() int64 { return e.store.DataSize() }

// DataPages returns the store's size in pages.
func (e *Engine) DataPages() int64 { return e.store.DataPages() }

// DataSlices lends out store bytes for a read of data (see remapper.Lease). The read's event
// goes first, with the range asked for: once the lease is taken, the store's read lock is
// held, and no subscriber may run under it.
func (e *Engine) DataSlices(off int64, n int) (*Lease, error) {
	e.events.send(Event{Kind: DataRead, Off: off, Len: int64(n)})
	l, err := e.store.DataSlices(off, n)
	if err != nil {
		e.main.noteError("read data", err)
	}
	return l, err
}

// WriteData writes p at off of data, growing the store as needed. A failure is recorded in
// the main view's status; the bytes written before it stay written.
func (e *Engine) WriteData(p []byte, off int64) (int, error) {
	if err := e.Writable(); err != nil {
		return 0, err
	}
	n, err := e.store.WriteData(p, off)
	if n > 0 {
		e.touchData()
		e.events.send(Event{Kind: DataWritten, Off: off, Len: int64(n), Store: []Extent{{Off: off, Len: int64(n)}}})
	}
	if err != nil {
		e.main.noteError("write data", err)
	}
	return n, err
}

// Truncate sets data's size. Views over removed pages read as zeros.
func (e *Engine) Truncate(size int64) error {
	if err := e.Writable(); err != nil {
		return err
	}
	old := e.store.DataSize()
	if err := e.store.Truncate(size); err != nil {
		e.main.noteError("truncate data", err)
		return err
	}
	e.touchData()
	lo, hi := min(old, size), max(old, size)
	e.events.send(Event{Kind: Truncated, Off: lo, Len: hi - lo, Store: []Extent{{Off: lo, Len: hi - lo}}})
	return nil
}

// ErrReadOnly refuses a change of the store's bytes or size on a read-only store.
var ErrReadOnly = fmt.Errorf("the store is read-only (mounted with --read-only): %w", syscall.EROFS)

// ReadOnly tells whether the store refuses changes (Options.ReadOnly).
func (e *Engine) ReadOnly() bool { return e.readOnly }

// Writable is the one rule of a read-only store: nil if the store's bytes and size may
// change, else ErrReadOnly. Every write and truncate through the engine asks it, and a
// binding asks it before it opens a file for writing.
func (e *Engine) Writable() error {
	if e.readOnly {
		return ErrReadOnly
	}
	return nil
}

// StoreUsage is the memory the store holds now, in bytes (what df shows as used).
func (e *Engine) StoreUsage() int64 { return e.store.Usage() }

// SizeLimit is the bound on the store's memory in bytes (--size).
func (e *Engine) SizeLimit() int64 { return e.store.SizeLimit() }
