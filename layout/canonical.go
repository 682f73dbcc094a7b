package layout

import (
	"strconv"

	"github.com/nlfs/nlfs/run"
)

// Canonical returns the canonical text of a view given as runs: one line, entries joined by one
// space, a trailing newline. Reading the view left to right, the longest stretch of consecutive pages
// (ascending or descending, length >= 2) starting at each point is an entry "a-b", a lone page an
// entry "a"; then K >= 2 identical consecutive entries fold into "ENTRY*K". So "0 0 0" reads "0*3",
// "0 1 0 1" reads "0-1*2", and a 70,000-fold repeat stays one short entry. The text is unique for the
// view, and parses back to it. Canonical(nil) == "\n"; an identity layout reads as IdentityText.
func Canonical(runs []run.Run) string { return string(AppendCanonical(nil, runs)) }

// AppendCanonical is Canonical appending to b, for big views. It walks the runs without expanding
// them: an ascending stretch costs one step per run it spans, a descending one a step per page.
func AppendCanonical(b []byte, runs []run.Run) []byte {
	c := cursor{runs: runs}
	c.settle()
	var cur entry // the entry being folded, and how many times it has come in a row
	k := int64(0)
	for !c.done() {
		e := c.entry()
		if k > 0 && e == cur {
			k++
			continue
		}
		if k > 0 {
			b = cur.append(b, k)
			b = append(b, ' ')
		}
		cur, k = e, 1
	}
	if k > 0 {
		b = cur.append(b, k)
	}
	return append(b, '\n')
}

// IdentityText is what reading the layout of an identity view gives: a comment saying so, with the
// pages now in view (those of a store of pages pages; a negative count when unknown leaves them
// out). Written back it is still the identity, as every text without entries is, so reading a
// layout and writing back what was read never pins a view that follows data.
func IdentityText(pages int64) []byte {
	b := []byte("# identity: follows data")
	switch {
	case pages < 0:
	case pages == 0:
		b = append(b, ", now empty"...)
	default:
		b = append(b, ", now "...)
		b = AppendCanonical(b, run.Identity(pages))
		return b
	}
	return append(b, '\n')
}

// entry is one range or lone page of the canonical text: store pages first..last (either order).
type entry struct{ first, last int64 }

// append writes the entry, folded as "*k" when it comes k >= 2 times in a row.
func (e entry) append(b []byte, k int64) []byte {
	b = strconv.AppendInt(b, e.first, 10)
	if e.last != e.first {
		b = append(b, '-')
		b = strconv.AppendInt(b, e.last, 10)
	}
	if k > 1 {
		b = append(b, '*')
		b = strconv.AppendInt(b, k, 10)
	}
	return b
}

// cursor walks the pages of runs; runs need not be maximal, and empty runs are skipped.
type cursor struct {
	runs []run.Run
	i    int   // current run
	off  int64 // current page within it
}

// entry reads the longest ascending or descending stretch (a lone page if neither) from the
// cursor on, and moves past it.
func (c *cursor) entry() entry {
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
	return entry{first, last}
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
