package layout

import (
	"strconv"

	"github.com/nlfs/nlfs/run"
)

// Canonical returns the canonical text of a view given as runs: one line, entries joined by one
// space, a trailing newline. Reading the view left to right, the longest stretch of consecutive pages
// (ascending or descending, length >= 2) starting at each point is written as a range "a-b", a lone
// page as a number; repeats are written out, never as "*", so the text is unique for the view.
// Canonical(nil) == "\n".
func Canonical(runs []run.Run) string { return string(AppendCanonical(nil, runs)) }

// AppendCanonical is Canonical appending to b, for big views. It walks the runs without expanding
// them: an ascending stretch costs one step per run it spans, a descending one a step per page.
func AppendCanonical(b []byte, runs []run.Run) []byte {
	c := cursor{runs: runs}
	c.settle()
	for sep := false; !c.done(); sep = true {
		if sep {
			b = append(b, ' ')
		}
		first := c.page()
		last := first
		c.advance(1)
		switch {
		case c.done():
		case c.page() == last+1:
			for !c.done() && c.page() == last+1 {
				n := c.left()
				last += n
				c.advance(n)
			}
		case c.page() == last-1:
			for !c.done() && c.page() == last-1 {
				last--
				c.advance(1)
			}
		}
		b = strconv.AppendInt(b, first, 10)
		if last != first {
			b = append(b, '-')
			b = strconv.AppendInt(b, last, 10)
		}
	}
	return append(b, '\n')
}

// cursor walks the pages of runs; runs need not be maximal, and empty runs are skipped.
type cursor struct {
	runs []run.Run
	i    int   // current run
	off  int64 // current page within it
}

// settle moves past exhausted runs.
func (c *cursor) settle() {
	for c.i < len(c.runs) && c.off >= c.runs[c.i].Count {
		c.i, c.off = c.i+1, 0
	}
}

func (c *cursor) done() bool      { return c.i >= len(c.runs) }
func (c *cursor) page() int64     { return c.runs[c.i].File + c.off }
func (c *cursor) left() int64     { return c.runs[c.i].Count - c.off }
func (c *cursor) advance(n int64) { c.off += n; c.settle() }
