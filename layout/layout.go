// Package layout is the nlfs layout language: parse, check, canonical form, compile to runs
// (run.Run), generators. Pure Go, no I/O; the drawings of a mapping live in layout/render.
//
// A layout says which store page appears at each page of the view:
//
//	# comment to end of line; blank lines ignored
//	2 1 0          # page list: the store page shown at each view page, in order
//	0-3            # inclusive ascending range: 0 1 2 3
//	7-4            # descending range: 7 6 5 4
//	5*3            # repeat: 5 5 5 ; a range repeats too: 0-1*2 = 0 1 0 1
//	remap 0 1 2    # the syscall, in pages: remap VIEWPAGE NPAGES PGOFF
//
// Entries are separated by spaces, tabs, commas, carriage returns and newlines; a '#' ends an entry
// too and starts a comment. Numbers are decimal (leading zeros allowed) or hexadecimal after "0x" or
// "0X"; they have no sign. An entry is written without spaces inside it: "0-3" is a range, "0 - 3" is
// an error, because a lone "-" or "*" reads as a typo far more often than as intent, and keeping an
// entry one word keeps errors pointing at one place. An entry has at most one "*", after the page or
// range it repeats; "*0" is an error.
//
// The page list is all non-remap entries in text order. "remap" must be the first entry on its line and
// be followed by exactly three plain numbers on that line. Remap lines apply after the whole page list,
// in text order, like successive remap_file_pages calls; with no page list they apply to the identity
// view over the store's pages. A text with no entries at all is the identity layout: the view follows
// the store's size.
//
// Numbers above 2^52 are rejected: with 4 KiB pages a 64-bit file offset cannot reach past page 2^52,
// and the cap keeps sums of two numbers far from overflow. Views over Limits.MaxViewPages are rejected
// before anything is expanded, so "0*99999999999" costs nothing.
//
// A view reads back in canonical form (Canonical): one line of entries, each the longest ascending or
// descending range from where it starts (a lone page otherwise), equal neighbours folded into
// "ENTRY*K". The identity reads as a comment that says so (IdentityText), so that what is read,
// written back, leaves a view as it was: pinned stays pinned, the identity stays the identity.
//
// Errors carry the line and column (in bytes, both from 1) where the offending thing starts: the
// number for a bad store page, a too-large number or a zero count; the entry for a view over the
// maximum; the "remap" keyword for a remap line's range or arguments (its PGOFF for store pages past
// the end of data). Text that cannot be parsed is reported from the first byte that cannot continue
// it, quoting up to 32 bytes of it. The first error in the text wins, except that a remap running past
// the end of the view can only be known once the text has ended, so Parser reports it from Finish.
package layout

import (
	"fmt"
	"slices"

	"github.com/nlfs/nlfs/run"
)

// DefaultMaxViewPages is the view size limit when Limits.MaxViewPages is 0.
const DefaultMaxViewPages int64 = 1 << 20

// Limits are what a layout is checked against.
type Limits struct {
	DataPages    int64 // store pages now; a store page >= DataPages is rejected
	MaxViewPages int64 // 0 (or less) means DefaultMaxViewPages
}

// Error is a layout error positioned in its text; Line and Column count from 1 (column in bytes).
type Error struct {
	Line, Column int
	Msg          string
}

func (e *Error) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Msg)
}

// pos is a position in the text, both fields counted from 1.
type pos struct{ line, col int }

func errorAt(at pos, format string, args ...any) *Error {
	return &Error{Line: at.line, Column: at.col, Msg: fmt.Sprintf(format, args...)}
}

func pastData(page, dataPages int64) string {
	return fmt.Sprintf("page %d is past the end of data (%d pages)", page, dataPages)
}

// Layout is a checked layout.
type Layout struct {
	Runs     []run.Run // maximal runs in view order (adjacent runs never continue each other); nil when Identity
	Pages    int64     // view pages (sum of run counts); for Identity, the DataPages it was checked against
	Identity bool      // the text had no entries at all: the view follows the store's size

	// top is the highest store page the layout shows and topAt where the text names it, kept so that
	// Check can re-validate against a store that shrank after parsing; -1 when no page is named.
	top   int64
	topAt pos
}

// StorePagesNamed is how many store pages the store must have for l: one past the highest
// store page its text names (a page named and then remapped away counts), 0 for none. For the
// identity it is the DataPages it was checked against.
func (l *Layout) StorePagesNamed() int64 {
	if l.Identity {
		return l.Pages
	}
	return l.top + 1
}

// ViewRuns is the view l shows, as runs: its Runs, or for the identity the Pages it was
// checked against, page for page.
func (l *Layout) ViewRuns() []run.Run {
	if l.Identity {
		return run.Identity(l.Pages)
	}
	return l.Runs
}

// Parse checks a whole layout text.
func Parse(src []byte, lim Limits) (*Layout, error) {
	p := NewParser(lim)
	if _, err := p.Write(src); err != nil {
		return nil, err
	}
	return p.finish()
}

// Check re-validates l against the store size at the moment it is applied (data may have shrunk since
// parsing): returns the same positioned *Error "page N is past the end of data (M pages)" naming the
// position of the highest referenced page, or nil. When remap lines stand alone, the identity view
// they apply to is named by the first remap line. An identity layout always passes.
func (l *Layout) Check(dataPages int64) error {
	if l.Identity || l.top < dataPages {
		return nil
	}
	return errorAt(l.topAt, "%s", pastData(l.top, dataPages))
}

// Compile turns a page sequence into maximal runs (used by tests, generators, tools).
func Compile(pages []int64) []run.Run {
	var runs []run.Run
	for i, f := range pages {
		runs = appendRun(runs, int64(i), f, 1)
	}
	return runs
}

// appendRun adds view pages view..view+count-1 showing store pages file..file+count-1 to runs, which
// end just before view; it extends the last run when the new pages continue it, so runs stay maximal.
// It doubles the capacity when full: append's gentler growth for big slices made a million-run view
// cost five times its size in garbage.
func appendRun(runs []run.Run, view, file, count int64) []run.Run {
	n := len(runs)
	if n > 0 && runs[n-1].File+runs[n-1].Count == file {
		runs[n-1].Count += count
		return runs
	}
	if n == cap(runs) {
		runs = slices.Grow(runs, max(n, 16))
	}
	return append(runs, run.Run{View: view, File: file, Count: count})
}
