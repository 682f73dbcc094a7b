package layout

import (
	"fmt"
	"strconv"

	"github.com/nlfs/nlfs/run"
)

// MaxSteps is the most remap lines Steps follows one by one. A drawing per call is for reading;
// past a few hundred calls nobody reads it, and the cost (each step is a copy of the runs) would
// grow with the square of the calls.
const MaxSteps = 256

// Step is the view after one remap call: the call, as remap_file_pages would be called in pages
// (view pages View..View+Count-1 made to show store pages File..File+Count-1), and the view it
// leaves. The first step of Steps is the view the calls start from (Line 0, Count 0).
type Step struct {
	// Line is the remap line of the call in the text, from 1; 0 for the starting view and for
	// the calls that build a page list (BuildSteps), which no line of the text wrote.
	Line              int
	View, Count, File int64
	Runs              []run.Run // the whole view after the call, as maximal runs
}

// Steps checks src as Parse does and also returns the view step by step, as successive
// remap_file_pages calls on one mapping would leave it. The last step's runs are the layout's.
//
//   - A text with remap lines: first the view they apply to (the page list, or the identity over
//     lim.DataPages when there is none), then the view after each remap line, in text order. More
//     than MaxSteps remap lines are refused, naming the first line over.
//   - A page list alone has no calls of its own: its steps are the calls that build it
//     (BuildSteps), as nlfs makes them when the layout is written.
//   - An identity layout (no entries) has one step over lim.DataPages pages.
//
// The calls are read by the parser itself, as it checks them.
func Steps(src []byte, lim Limits) (*Layout, []Step, error) {
	p := NewParser(lim)
	p.steps = true
	if _, err := p.Write(src); err != nil {
		return nil, nil, err
	}
	l, err := p.finish()
	if err != nil {
		return nil, nil, err
	}
	if p.tooMany != nil {
		return nil, nil, p.tooMany
	}
	if l.Identity {
		return l, []Step{{Runs: l.ViewRuns()}}, nil
	}
	if len(p.calls) == 0 {
		steps, err := BuildSteps(l.Runs)
		return l, steps, err
	}
	start := p.runs // the page list, before the remap lines painted over it
	if !p.listed {
		start = run.Identity(lim.DataPages)
	}
	steps := make([]Step, 0, len(p.calls)+1)
	steps = append(steps, Step{Runs: start})
	cur := start
	for _, c := range p.calls {
		cur = RemapRuns(cur, c.View, c.Count, c.File)
		c.Runs = cur
		steps = append(steps, c)
	}
	return l, steps, nil
}

// BuildSteps are the calls that build a view of runs (maximal, in view order), as nlfs's remap
// backend makes them: the store mapped in order over the view's pages (one mmap, one VMA: the
// first step), then one remap_file_pages per run not already in place (a run whose first view
// page is its first store page needs none), in view order. After the last call the view holds
// runs. A view that needs more than MaxSteps calls is refused: the drawing is for reading.
func BuildSteps(runs []run.Run) ([]Step, error) {
	cur := run.Identity(run.ViewPages(runs))
	steps := []Step{{Runs: cur}}
	calls := 0
	for _, r := range runs {
		if r.File != r.View {
			calls++
		}
	}
	if calls > MaxSteps {
		return nil, fmt.Errorf("the layout takes %d remap calls; at most %d are drawn one by one", calls, MaxSteps)
	}
	for _, r := range runs {
		if r.File == r.View {
			continue
		}
		cur = RemapRuns(cur, r.View, r.Count, r.File)
		steps = append(steps, Step{View: r.View, Count: r.Count, File: r.File, Runs: cur})
	}
	return steps, nil
}

// recordCall keeps a complete remap line for Steps.
func (p *Parser) recordCall(view, count, file int64) {
	if !p.steps || p.err != nil || p.tooMany != nil {
		return
	}
	if len(p.calls) == MaxSteps {
		p.tooMany = errorAt(p.remapAt, "too many remap lines to draw step by step (at most %s)", strconv.Itoa(MaxSteps))
		return
	}
	p.calls = append(p.calls, Step{Line: p.remapAt.line, View: view, Count: count, File: file})
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
// identity over the store with the calls applied: drawing it needs the store's size. It reads src
// with the parser under lim, as far as it parses (a text that does not parse may answer either way).
func RemapOnly(src []byte, lim Limits) bool {
	p := NewParser(lim)
	p.Write(src)
	p.Write([]byte{'\n'}) // ends an entry the text ends in, which makes a page list
	return p.remaps > 0 && !p.listed
}
