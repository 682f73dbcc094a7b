package engine

import (
	"fmt"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nlfs/nlfs/layout"
	"github.com/nlfs/nlfs/remapper"
	"github.com/nlfs/nlfs/run"
)

// View is one view of the engine's store: the main view or a named one. It is safe for
// concurrent use.
type View struct {
	e    *Engine
	name string         // MainView for the main view; immutable
	rv   *remapper.View // immutable

	// applyMu serializes layout changes of this view, so that generation and lastError
	// describe the layout actually in force. Taken before mu.
	applyMu sync.Mutex

	mu sync.Mutex
	// canonical caches the canonical text of a pinned layout (nil until asked, and for the
	// identity, whose text follows data). Protected by mu.
	canonical []byte
	// generation counts layouts applied. Protected by mu.
	generation int64
	// lastError is the most recent failure reported to a writer through this view (for the
	// main view also through data), or "". Protected by mu.
	lastError string
	// layoutTime is when a layout was last applied (the mount's time until then). Protected
	// by mu.
	layoutTime time.Time
}

// Name is the view's name (MainView for the main view).
func (v *View) Name() string { return v.name }

// Remapper gives tests and tools the kernel-side view.
func (v *View) Remapper() *remapper.View { return v.rv }

// limits are the bounds a layout written to this view now is checked against.
func (v *View) limits() layout.Limits { return v.e.limits() }

// ApplyText parses a whole layout text and puts it in force. A refusal (a *layout.Error
// with its line and column, or an error from the kernel) leaves the previous layout in force
// and is recorded for status.
func (v *View) ApplyText(text []byte) error {
	l, err := layout.Parse(text, v.limits())
	if err != nil {
		v.noteLayoutResult(err)
		return err
	}
	return v.Apply(l)
}

// Apply puts a parsed layout in force. It checks it again against the store's size at this
// moment (data may have shrunk since it was parsed). On failure the previous layout stays and
// the error is recorded for status.
func (v *View) Apply(l *layout.Layout) error {
	err := v.apply(l)
	v.noteLayoutResult(err)
	if err == nil {
		v.e.save(v)
		v.e.events.send(Event{Kind: LayoutApplied, View: v.name})
		if k := v.e.keeper.Load(); k != nil {
			(*k).AfterLayout(v)
		}
	}
	return err
}

func (v *View) apply(l *layout.Layout) error {
	if k := v.e.keeper.Load(); k != nil {
		(*k).BeforeLayout(v)
	}
	v.applyMu.Lock()
	defer v.applyMu.Unlock()
	if err := l.Check(v.e.store.DataPages()); err != nil {
		return err
	}
	var err error
	if l.Identity {
		err = v.rv.ApplyIdentity()
	} else {
		err = v.rv.Apply(l.Runs)
	}
	if err != nil {
		return err // the remapper's error says what it applied
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.canonical = nil
	v.generation++
	v.layoutTime = time.Now()
	return nil
}

// ApplyEmpty returns the view to the identity that follows the store.
func (v *View) ApplyEmpty() error { return v.ApplyText(nil) }

// noteLayoutResult records the outcome of a layout write for status: a failure until the next
// layout is applied.
func (v *View) noteLayoutResult(err error) {
	v.mu.Lock()
	if err != nil {
		v.lastError = "layout: " + err.Error()
	} else {
		v.lastError = ""
	}
	v.mu.Unlock()
	if err != nil {
		v.e.events.send(Event{Kind: LayoutRefused, View: v.name})
	}
}

// noteError records a failure of a data or view operation for status.
func (v *View) noteError(what string, err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.lastError = what + ": " + err.Error()
}

// LastError is the failure status reports, "" for none.
func (v *View) LastError() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.lastError
}

// Generation counts the layouts applied to the view.
func (v *View) Generation() int64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.generation
}

// LayoutTime is when a layout was last applied (the mount's time until then).
func (v *View) LayoutTime() time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.layoutTime
}

// ViewTime is the view file's time: the later of the last layout and the last data change.
func (v *View) ViewTime() time.Time {
	t, d := v.LayoutTime(), v.e.DataTime()
	if d.After(t) {
		return d
	}
	return t
}

// Pinned reports whether a layout is in force (false: the identity that follows the store).
func (v *View) Pinned() bool { return !v.rv.Identity() }

// LayoutText is what reading the layout gives: the canonical text of a pinned layout, or, for the
// identity, a comment that says so with the pages now in view (written back, still the identity).
func (v *View) LayoutText() []byte {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.canonical != nil {
		return v.canonical
	}
	runs := v.rv.Runs()
	if v.rv.Identity() {
		// The identity follows data, so its text is never cached.
		return layout.IdentityText(run.ViewPages(runs))
	}
	// apply clears the cache under mu after the view has the new layout, so these runs are the
	// pinned layout's.
	v.canonical = layout.AppendCanonical(nil, runs)
	return v.canonical
}

// ViewSize is the view's size in bytes.
func (v *View) ViewSize() int64 { return v.rv.ViewSize() }

// ViewSlices lends out view bytes for a read (see remapper.Lease; the event goes first, as
// for Engine.DataSlices).
func (v *View) ViewSlices(off int64, n int) (*remapper.Lease, error) {
	v.e.events.send(Event{Kind: ViewRead, View: v.name, Off: off, Len: int64(n)})
	l, err := v.rv.ViewSlices(off, n)
	if err != nil {
		v.noteError("read view", err)
	}
	return l, err
}

// WriteView writes p at off through the view into the store pages it shows. A failure is
// recorded for status; the bytes written before it stay written.
func (v *View) WriteView(p []byte, off int64) (int, error) {
	if dropAcknowledged() { // a planted loss, armed only by tests (faults.go)
		return len(p), nil
	}
	k, ext, err := v.rv.WriteView(p, off)
	if k > 0 {
		v.e.touchData()
		v.e.events.send(Event{Kind: ViewWritten, View: v.name, Off: off, Len: int64(k), Store: ext})
	}
	if err != nil {
		v.noteError("write view", err)
	}
	return k, err
}

// ErrViewSize refuses a truncate of the view file to another size than its own.
var ErrViewSize = fmt.Errorf("the view's size follows the layout; write a layout to change it: %w", syscall.EINVAL)

// TruncateView accepts a truncate of the view file to its own size (what O_TRUNC amounts to
// when nothing is to change) and refuses any other.
func (v *View) TruncateView(size int64) error {
	if size != v.ViewSize() {
		v.noteError("truncate view", ErrViewSize)
		return ErrViewSize
	}
	return nil
}

// oneLine keeps a message on one line, whatever it holds.
func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }
