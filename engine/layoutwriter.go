package engine

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"syscall"

	"github.com/nlfs/nlfs/layout"
)

// Refusals of a layout write session. They wrap EINVAL, the errno a writer sees for them.
var (
	// ErrAppend refuses an open for appending: a layout is written whole.
	ErrAppend = fmt.Errorf("append: a layout is written whole, from offset 0 (use > instead of >>): %w", syscall.EINVAL)
	// ErrTruncateLayout refuses a truncate of the layout file to any size but 0.
	ErrTruncateLayout = fmt.Errorf("a layout can only be truncated to 0 bytes (the empty layout): %w", syscall.EINVAL)
)

// LayoutWriter is one open layout file's session: a whole new layout written from offset 0
// in pieces of any size, checked as it arrives and put in force, once, whole, when the file is
// closed for good (Flush: the binding tells a close for good from the close of one copy of the
// descriptor among several; the session takes no write after it, ErrSessionApplied) or,
// failing that, released (Release). Writers are told apart by an
// owner number the binding gives (FUSE's lock owner: one per open file table, so a forked child
// that inherited the descriptor is another owner): a refusal is returned to the owners that
// wrote, and a writer killed mid-layout (Abandon) has the session refused whole. The first
// refusal is sticky: every later Write returns it, and the layout in force stays as it was. It
// is safe for concurrent use (the kernel may send a descriptor's writes and its flush
// concurrently).
type LayoutWriter struct {
	v   *View
	seq int64 // the session's number, in the order the sessions were opened; immutable

	mu sync.Mutex
	// parser checks the text written so far. Protected by mu.
	parser *layout.Parser
	// next is the offset the next write must start at. Protected by mu.
	next int64
	// dirty: written since the last apply. Protected by mu.
	dirty bool
	// writers are the owners that wrote through the session. Protected by mu.
	writers []uint64
	// truncated: opened with O_TRUNC or truncated to 0, and nothing applied since; an empty
	// layout is applied at Release if no write came. Protected by mu.
	truncated bool
	// err is the first refusal of this session; sticky. Protected by mu.
	err error
	// applied: a close for good put the session's layout in force. The session is over: a
	// process that still holds the file then (a background child of the shell that closed
	// it, `{ …; cmd & } > layout`) cannot add to it and have it applied again, over a layout
	// written since. Protected by mu.
	applied bool
}

// ErrSessionApplied refuses a write through an open layout file whose layout was put in force
// already, when the file was closed for good: a layout is applied once.
var ErrSessionApplied = fmt.Errorf("this open layout file's layout was applied when it was closed for good (a process that still held it wrote after that): open layout again to write a new one: %w", syscall.EINVAL)

// NewLayoutWriter starts a session; truncated says the file was opened with O_TRUNC.
func (v *View) NewLayoutWriter(truncated bool) *LayoutWriter {
	return &LayoutWriter{v: v, seq: v.sessions.Add(1), parser: layout.NewParser(v.limits()), truncated: truncated}
}

// Write takes the next piece of the layout text from owner; it must start where the last
// piece ended.
func (w *LayoutWriter) Write(p []byte, off int64, owner uint64) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !slices.Contains(w.writers, owner) {
		w.writers = append(w.writers, owner)
	}
	if w.err == nil && w.applied {
		w.fail(ErrSessionApplied)
	}
	if w.err == nil && off != w.next {
		w.fail(fmt.Errorf("write at offset %d, want %d: a layout is written whole, from offset 0 (do not seek or append): %w", off, w.next, syscall.EINVAL))
	}
	if w.err != nil {
		return 0, w.err
	}
	if _, err := w.parser.Write(p); err != nil {
		w.fail(err)
		return 0, err
	}
	w.next += int64(len(p))
	w.dirty = true
	return len(p), nil
}

// Written is how many bytes the session took: where its writer's file offset stands.
func (w *LayoutWriter) Written() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.next
}

// fail makes err the session's refusal and records it for status. Needs mu held.
func (w *LayoutWriter) fail(err error) {
	w.err = err
	w.v.noteRefusal(err)
}

// Restart starts the session over with nothing written (ftruncate to 0 on the descriptor).
func (w *LayoutWriter) Restart() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.parser = layout.NewParser(w.v.limits())
	w.next, w.dirty, w.truncated, w.err = 0, false, true, nil
}

// Flush is a close of the file for good, by owner: what was written since the last apply is
// put in force, whoever wrote it (a flush with nothing new, as bash sends before its write,
// changes nothing). A refusal, now or earlier in the session, is returned if owner wrote
// through the session; another owner gets nil (status says it). ctx is the caller's (see
// CacheKeeper).
func (w *LayoutWriter) Flush(ctx context.Context, owner uint64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	err := w.flushLocked(ctx)
	if !slices.Contains(w.writers, owner) {
		return nil
	}
	return err
}

func (w *LayoutWriter) flushLocked(ctx context.Context) error {
	if w.err != nil || !w.dirty {
		return w.err
	}
	w.dirty, w.truncated = false, false
	l, err := w.parser.Finish()
	if err != nil {
		w.fail(err)
		return err
	}
	if err := w.v.applySession(ctx, l, w.seq); err != nil {
		w.err = err
		return err
	}
	w.applied = true
	return nil
}

// ErrWriterKilled refuses a layout whose writer was killed before it closed the file.
var ErrWriterKilled = fmt.Errorf("a process writing the layout was killed before it closed the file: nothing of it is applied: %w", syscall.EINVAL)

// Abandon tells the session that owner is dying of a signal with the file open. If it wrote
// through the session, what it wrote may be cut anywhere; if it held the last copy of the file
// (last), it was the one writing whatever it had written or not yet: either way the session
// is refused whole, and nothing of it — nor the empty layout its truncation would mean — is
// applied.
func (w *LayoutWriter) Abandon(owner uint64, last bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil && (w.dirty || w.truncated) && (last || slices.Contains(w.writers, owner)) {
		w.fail(ErrWriterKilled)
	}
}

// Release ends the session, once every descriptor of the file is closed: what was written
// and not yet applied (no Flush of a writer came after it) is applied, and a session that
// truncated the file and wrote nothing (`: > layout`) applies the empty layout. It cannot
// report an error; status does. It never waits: the kernel sends it after close(2) returned,
// in the background, and a binding's cache keeper must not be waited for there (see
// CacheKeeper); the layout is applied by a goroutine of its own, before any layout applied
// after this call (View.Apply waits for it), and not at all if the layout of a session opened
// after this one is in force already: the kernel may deliver the release of one session after
// the close of the next.
func (w *LayoutWriter) Release() {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.err != nil:
	case w.dirty:
		l, err := w.parser.Finish()
		if err != nil {
			w.fail(err)
			return
		}
		w.v.applyLater(l, w.seq)
	case w.truncated:
		w.v.applyLater(&layout.Layout{Identity: true}, w.seq)
	}
}

// RefuseTruncate refuses a truncate of the layout file to size (not 0), recording why.
func (v *View) RefuseTruncate(size int64) error {
	err := fmt.Errorf("truncate to %d bytes: %w", size, ErrTruncateLayout)
	v.noteRefusal(err)
	return err
}

// RefuseAppend refuses an open of the layout file for appending, recording why.
func (v *View) RefuseAppend() error {
	v.noteRefusal(ErrAppend)
	return ErrAppend
}
