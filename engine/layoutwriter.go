package engine

import (
	"fmt"
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

// LayoutWriter is one writer's session on a view's layout file: a whole new layout written
// from offset 0 in pieces of any size, checked as it arrives and put in force by Flush (the
// file's close). The first refusal is sticky: every later Write and Flush of the session
// returns it, and the layout in force stays as it was. It is safe for concurrent use (the
// kernel may send a descriptor's writes and its flush concurrently).
type LayoutWriter struct {
	v *View

	mu sync.Mutex
	// parser checks the text written so far. Protected by mu.
	parser *layout.Parser
	// next is the offset the next write must start at. Protected by mu.
	next int64
	// dirty: written since the last apply. Protected by mu.
	dirty bool
	// truncated: opened with O_TRUNC or truncated to 0, and nothing applied since; an empty
	// layout is applied at Release if no write came. Protected by mu.
	truncated bool
	// err is the first refusal of this session; sticky. Protected by mu.
	err error
}

// NewLayoutWriter starts a session; truncated says the file was opened with O_TRUNC.
func (v *View) NewLayoutWriter(truncated bool) *LayoutWriter {
	return &LayoutWriter{v: v, parser: layout.NewParser(v.limits()), truncated: truncated}
}

// Write takes the next piece of the layout text, which must start where the last one ended.
func (w *LayoutWriter) Write(p []byte, off int64) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
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

// fail makes err the session's refusal and records it for status. Needs mu held.
func (w *LayoutWriter) fail(err error) {
	w.err = err
	w.v.noteLayoutResult(err)
}

// Restart starts the session over with nothing written (ftruncate to 0 on the descriptor).
func (w *LayoutWriter) Restart() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.parser = layout.NewParser(w.v.limits())
	w.next, w.dirty, w.truncated, w.err = 0, false, true, nil
}

// Flush puts what was written since the last Flush in force. A flush with nothing new (bash
// sends one before its write) changes nothing.
func (w *LayoutWriter) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if !w.dirty {
		return nil
	}
	w.dirty, w.truncated = false, false
	l, err := w.parser.Finish()
	if err != nil {
		w.fail(err)
		return err
	}
	if err := w.v.Apply(l); err != nil {
		w.err = err
		return err
	}
	return nil
}

// Release ends the session: one that truncated the file and wrote nothing (`: > layout`)
// applies the empty layout. It cannot report an error; status does.
func (w *LayoutWriter) Release() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.truncated && !w.dirty && w.err == nil {
		_ = w.v.ApplyEmpty()
	}
}

// RefuseTruncate refuses a truncate of the layout file to size (not 0), recording why.
func (v *View) RefuseTruncate(size int64) error {
	err := fmt.Errorf("truncate to %d bytes: %w", size, ErrTruncateLayout)
	v.noteLayoutResult(err)
	return err
}

// RefuseAppend refuses an open of the layout file for appending, recording why.
func (v *View) RefuseAppend() error {
	v.noteLayoutResult(ErrAppend)
	return ErrAppend
}
