package layout

import (
	"bytes"
	"strconv"

	"github.com/nlfs/nlfs/run"
)

// MaxSteps is the most remap lines Steps follows one by one. A drawing per call is for reading;
// past a few hundred calls nobody reads it, and the cost (each step is a copy of the runs) would
// grow with the square of the calls.
const MaxSteps = 256

// Step is the view after one remap line: the call, as remap_file_pages would be called in pages
// (view pages View..View+Count-1 made to show store pages File..File+Count-1), and the view it
// leaves. The first step of Steps is the view the calls start from (Line 0, Count 0).
type Step struct {
	Line              int // line of the remap call in the text, from 1; 0 for the starting view
	View, Count, File int64
	Runs              []run.Run // the whole view after the call, as maximal runs
}

// Steps checks src as Parse does and also returns the view step by step: first the view that the
// remap lines apply to (the page list, or the identity over lim.DataPages when there is none), then
// the view after each remap line, in text order, as successive remap_file_pages calls would leave
// it. The last step's runs are the layout's. A text with no remap lines has one step; one with more
// than MaxSteps is refused, naming the first line over. An identity layout (no entries) has one step
// over lim.DataPages pages.
func Steps(src []byte, lim Limits) (*Layout, []Step, error) {
	l, err := Parse(src, lim)
	if err != nil {
		return nil, nil, err
	}
	if l.Identity {
		return l, []Step{{Runs: run.Identity(l.Pages)}}, nil
	}
	// The text is valid, so every remap line is "remap A B C" (after separators) with three
	// plain numbers: finding them needs no more than splitting lines into fields. The page list is
	// what is left with those lines blanked, parsed as before (line numbers stay put).
	lines := bytes.Split(src, []byte("\n"))
	var calls []Step
	list := make([]byte, 0, len(src))
	for i, line := range lines {
		if i > 0 {
			list = append(list, '\n')
		}
		f := stepFields(line)
		if len(f) != 4 || string(f[0]) != "remap" {
			list = append(list, line...)
			continue
		}
		if len(calls) == MaxSteps {
			return nil, nil, &Error{Line: i + 1, Column: bytes.Index(line, f[0]) + 1,
				Msg: "too many remap lines to draw step by step (at most " + strconv.Itoa(MaxSteps) + ")"}
		}
		calls = append(calls, Step{Line: i + 1, View: stepNumber(f[1]), Count: stepNumber(f[2]), File: stepNumber(f[3])})
	}
	var start []run.Run
	if len(calls) == 0 {
		start = l.Runs
	} else if base, err := Parse(list, lim); err != nil {
		return nil, nil, err // cannot happen: blanking remap lines removes only checks
	} else if base.Identity {
		start = run.Identity(lim.DataPages)
	} else {
		start = base.Runs
	}
	steps := make([]Step, 0, len(calls)+1)
	steps = append(steps, Step{Runs: start})
	cur := start
	for _, c := range calls {
		cur = RemapRuns(cur, c.View, c.Count, c.File)
		c.Runs = cur
		steps = append(steps, c)
	}
	return l, steps, nil
}

// stepFields splits a line into its entries, dropping a comment.
func stepFields(line []byte) [][]byte {
	if i := bytes.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	return bytes.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == '\t' || r == ',' || r == '\r' })
}

// stepNumber reads a number the parser has accepted: decimal (leading zeros are decimal, not
// octal) or hex after 0x.
func stepNumber(b []byte) int64 {
	base, s := 10, string(b)
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		base, s = 16, s[2:]
	}
	n, _ := strconv.ParseInt(s, base, 64)
	return n
}

// RemapRuns returns the view runs after one remap call: view pages view..view+count-1 show store
// pages file..file+count-1, every other view page what it showed. The result is maximal, as the
// kernel's VMAs are: the new pages merge with a neighbour whose store pages they continue. The
// call must lie within the view; runs is not modified. Cost: linear in the runs.
func RemapRuns(runs []run.Run, view, count, file int64) []run.Run {
	end := view + count
	out := make([]run.Run, 0, len(runs)+2)
	put := func(v, f, n int64) { out = appendRun(out, v, f, n) }
	done := false
	for _, r := range runs {
		rEnd := r.View + r.Count
		if rEnd <= view || r.View >= end {
			if r.View >= end && !done {
				put(view, file, count)
				done = true
			}
			put(r.View, r.File, r.Count)
			continue
		}
		if r.View < view {
			put(r.View, r.File, view-r.View)
		}
		if !done {
			put(view, file, count)
			done = true
		}
		if rEnd > end {
			put(end, r.File+end-r.View, rEnd-end)
		}
	}
	if !done {
		put(view, file, count)
	}
	return out
}

// RemapOnly reports whether src has remap lines and no page list, so that its view is the
// identity over the store with the calls applied: drawing it needs the store's size. It looks at
// entries only (a text that does not parse may answer either way).
func RemapOnly(src []byte) bool {
	remaps := false
	for _, line := range bytes.Split(src, []byte("\n")) {
		f := stepFields(line)
		switch {
		case len(f) == 0:
		case string(f[0]) == "remap":
			remaps = true
		default:
			return false
		}
	}
	return remaps
}
