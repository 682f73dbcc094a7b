package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nlfs/nlfs/layout"
	"github.com/nlfs/nlfs/remapper"
	"github.com/nlfs/nlfs/run"
)

// View is one view of the engine's store: the main view or a named one. It is safe for
// concurrent use. Its layout, runs and generation live in the remapper's view, which changes
// them together under the store's lock: Snapshot reads them in one step.
type View struct {
	e    *Engine
	name string         // MainView for the main view; immutable
	rv   *remapper.View // immutable

	// applyMu serializes layout changes of this view, and the lastError they record, so
	// that lastError describes the layout actually in force. Taken before mu.
	applyMu sync.Mutex
	// newest is the number of the newest session whose layout was put in force (see
	// applySession). Protected by applyMu.
	newest int64
	// sessions counts the layout sessions opened (NewLayoutWriter numbers them).
	sessions atomic.Int64

	mu sync.Mutex
	// canonical caches the canonical text of a pinned layout, for the layout count it was
	// made at (the identity's text follows data and is never cached). Protected by mu.
	canonical struct {
		layouts int64
		text    []byte
	}
	// lastError is the most recent failure reported to a writer through this view (for the
	// main view also through data), or "". Protected by mu.
	lastError string
	// layoutTime is when a layout was last applied (the mount's time until then). Protected
	// by mu.
	layoutTime time.Time
	// later counts the layouts handed to goroutines by applyLater and not yet applied;
	// laterDone is signalled (with mu) when it falls to 0. Protected by mu.
	later     int
	laterDone sync.Cond
}

// Snapshot is what a view shows at one moment, read in one step: its generation, runs and
// sizes all belong to the same layout.
type Snapshot struct {
	Generation int64     // layouts applied to the view
	Runs       []run.Run // the runs in force; shared and never modified: do not modify them
	Pinned     bool      // a layout is in force (false: the identity that follows data)
}

// Snapshot returns what the view shows now.
func (v *View) Snapshot() Snapshot {
	st := v.rv.State()
	return Snapshot{Generation: st.Layouts, Runs: st.Runs, Pinned: !st.Identity}
}

// Name is the view's name (MainView for the main view).
func (v *View) Name() string { return v.name }

// limits are the bounds a layout written to this view now is checked against.
func (v *View) limits() layout.Limits { return v.e.limits() }

// ApplyText parses a whole layout text and puts it in force. A refusal (a *layout.Error
// with its line and column, or an error from the kernel) leaves the previous layout in force
// and is recorded for status. ctx is the caller's: a binding's CacheKeeper may wait in it
// (see CacheKeeper).
func (v *View) ApplyText(ctx context.Context, text []byte) error {
	l, err := layout.Parse(text, v.limits())
	if err != nil {
		v.noteRefusal(err)
		return err
	}
	return v.Apply(ctx, l)
}

// Apply puts a parsed layout in force. It checks it again against the store's size at this
// moment (data may have shrunk since it was parsed). On failure the previous layout stays and
// the error is recorded for status. A layout that a layout file's release handed on
// (applyLater) is applied first.
func (v *View) Apply(ctx context.Context, l *layout.Layout) error {
	return v.applySession(ctx, l, v.sessions.Load())
}

// applySession is Apply for the layout of session seq (numbered as NewLayoutWriter numbers
// them; Apply's own is the newest opened so far).
func (v *View) applySession(ctx context.Context, l *layout.Layout, seq int64) error {
	v.waitLater()
	return v.apply(ctx, l, seq, false)
}

// apply puts l, the layout of session seq, in force. A deferred one (applyLater's) is dropped
// if the layout of a newer session is in force already: its session was closed before that
// one was opened, and only its release came late.
func (v *View) apply(ctx context.Context, l *layout.Layout, seq int64, deferred bool) error {
	k := v.e.keeper.Load()
	if k != nil {
		(*k).BeforeLayout(ctx, v)
	}
	v.applyMu.Lock()
	if deferred && seq < v.newest {
		v.applyMu.Unlock()
		return nil
	}
	err := v.applyLocked(l)
	if err == nil {
		v.newest = max(v.newest, seq)
	}
	v.noteLayoutResultLocked(err)
	v.applyMu.Unlock()
	if err != nil {
		v.e.events.send(Event{Kind: LayoutRefused, View: v.name})
		return err
	}
	v.e.save(v)
	v.e.events.send(Event{Kind: LayoutApplied, View: v.name})
	if k != nil {
		(*k).AfterLayout(ctx, v)
	}
	return nil
}

// applyLocked checks l against the store and puts it in force. Needs applyMu held.
func (v *View) applyLocked(l *layout.Layout) error {
	if err := l.Check(v.e.store.DataPages()); err != nil {
		return err
	}
	var err error
	if l.Identity {
		err = v.rv.ApplyIdentity()
	} else {
		err = v.rv.Apply(l.Runs)
	}
	if errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("view %q: %w", v.name, ErrNoView) // removed meanwhile
	}
	if err != nil {
		return err // the remapper's error says what it applied
	}
	v.mu.Lock()
	v.layoutTime = time.Now()
	v.mu.Unlock()
	return nil
}

// ApplyEmpty returns the view to the identity that follows the store.
func (v *View) ApplyEmpty(ctx context.Context) error { return v.ApplyText(ctx, nil) }

// applyLater applies l, the layout of session seq, in a goroutine of its own, for a caller
// that must not wait (a layout file's release); a later Apply waits for it, so the two keep
// their order, and if a newer session's layout came first anyway, l is dropped (apply).
func (v *View) applyLater(l *layout.Layout, seq int64) {
	v.mu.Lock()
	v.later++
	v.mu.Unlock()
	go func() {
		_ = v.apply(context.Background(), l, seq, true) // a refusal is in status
		v.mu.Lock()
		v.later--
		if v.later == 0 {
			v.laterDone.Broadcast()
		}
		v.mu.Unlock()
	}()
}

// waitLater returns once the layouts applyLater handed on are applied.
func (v *View) waitLater() {
	v.mu.Lock()
	defer v.mu.Unlock()
	for v.later > 0 {
		v.laterDone.Wait()
	}
}

// noteRefusal records a refused layout for status and tells the subscribers.
func (v *View) noteRefusal(err error) {
	v.applyMu.Lock()
	v.noteLayoutResultLocked(err)
	v.applyMu.Unlock()
	v.e.events.send(Event{Kind: LayoutRefused, View: v.name})
}

// noteLayoutResultLocked records the outcome of a layout write for status: a failure until
// the next layout is applied. Needs applyMu held, so that the outcome recorded last is the
// one of the layout decided last.
func (v *View) noteLayoutResultLocked(err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err != nil {
		v.lastError = "layout: " + err.Error()
	} else {
		v.lastError = ""
	}
}

// noteError records a failure of a data or view operation for status, saying the operation
// once (the remapper's errors mostly name it already).
func (v *View) noteError(what string, err error) {
	msg := err.Error()
	if !strings.HasPrefix(msg, what) {
		msg = what + ": " + msg
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.lastError = msg
}

// ReportError records, for status, a failure a binding met while serving the view (what it
// was doing, and why it failed).
func (v *View) ReportError(what string, err error) { v.noteError(what, err) }

// LastError is the failure status reports, "" for none.
func (v *View) LastError() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.lastError
}

// Generation counts the layouts applied to the view.
func (v *View) Generation() int64 { return v.rv.State().Layouts }

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
	snap := v.Snapshot()
	if !snap.Pinned {
		return layout.IdentityText(run.ViewPages(snap.Runs)) // the identity follows data: never cached
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.canonical.text == nil || v.canonical.layouts != snap.Generation {
		v.canonical.layouts, v.canonical.text = snap.Generation, layout.AppendCanonical(nil, snap.Runs)
	}
	return v.canonical.text
}

// ViewSize is the view's size in bytes.
func (v *View) ViewSize() int64 { return v.rv.ViewSize() }

// ViewSlices lends out view bytes for a read (see remapper.Lease; the event goes first, as
// for Engine.DataSlices).
func (v *View) ViewSlices(off int64, n int) (*Lease, error) {
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
	if err := v.e.Writable(); err != nil {
		return 0, err
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

// OneLine keeps a message on one line, whatever it holds: every line break (\n, \r\n, \r)
// becomes a space, and trailing ones go. Status values and the web's refusals use it.
func OneLine(s string) string { return lineBreaks.Replace(strings.TrimRight(s, "\r\n")) }

var lineBreaks = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ")
