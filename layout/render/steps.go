package render

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/nlfs/nlfs/layout"
	"github.com/nlfs/nlfs/run"
)

// The step-by-step drawings (`nlfs layout show --steps`) show what successive remap_file_pages
// calls do to one mapping: the view after each call and how its VMAs split and merge. Since Linux
// 4.0 each call is an mmap(MAP_FIXED) of the range over the same file: the VMA the range starts in
// is split where the range starts inside it, the one it ends in where it ends inside it, the VMAs
// in between are replaced, and the new VMA is merged with a neighbour whose file offsets it
// continues. So a view built by calls alone holds one VMA per maximal run, and the counts drawn
// here are what the kernel would hold (a test in cmd/nlfs makes the calls and reads /proc/self/maps
// after each).

// stepChange says what one call did: what it shows (the view pages it remapped), and what it did
// to the VMAs (the counts before and after, one per run, and where old VMAs were split and the
// new one merged).
func stepChange(before, after []run.Run, s layout.Step) (what, vmas string) {
	if s.Count == 1 {
		what = fmt.Sprintf("view page %d shows store page %d", s.View, s.File)
	} else {
		what = fmt.Sprintf("view pages %s show store pages %s", spanText(s.View, s.Count), spanText(s.File, s.Count))
	}
	n0, n1 := len(before), len(after)
	pages := run.ViewPages(after)
	if stepSame(before, after) {
		return what, "as before, still " + Plural(int64(n1), "VMA")
	}
	starts0, starts1 := stepStarts(before), stepStarts(after)
	end := s.View + s.Count
	var how []string
	var cuts []string
	for _, p := range []int64{s.View, end} {
		if p > 0 && p < pages && !starts0[p] {
			cuts = append(cuts, strconv.FormatInt(p, 10))
		}
	}
	switch len(cuts) {
	case 1:
		how = append(how, "split at view page "+cuts[0])
	case 2:
		how = append(how, "split at view pages "+cuts[0]+" and "+cuts[1])
	}
	// VMAs wholly inside the range are replaced by the new one.
	replaced := 0
	for _, r := range before {
		if r.View >= s.View && r.View+r.Count <= end {
			replaced++
		}
	}
	if replaced > 1 {
		how = append(how, fmt.Sprintf("%d VMAs replaced by one", replaced))
	}
	if s.View > 0 && !starts1[s.View] {
		how = append(how, "merged with the VMA before")
	}
	if end < pages && !starts1[end] {
		how = append(how, "merged with the VMA after")
	}
	if len(how) == 0 {
		how = append(how, "the VMA there replaced")
	}
	return what, fmt.Sprintf("%s -> %d (%s)", Plural(int64(n0), "VMA"), n1, strings.Join(how, "; "))
}

func stepSame(a, b []run.Run) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// stepStarts is the set of view pages where a run starts (page 0 left out).
func stepStarts(runs []run.Run) map[int64]bool {
	m := make(map[int64]bool, len(runs))
	for _, r := range runs[min(1, len(runs)):] {
		m[r.View] = true
	}
	return m
}

// stepStart describes the view the calls start from.
func stepStart(runs []run.Run) string {
	if len(runs) == 1 && runs[0].File == 0 {
		return fmt.Sprintf("store pages 0-%d in order", runs[0].Count-1)
	}
	return "the page list"
}

// stepLabel is a step's name: its call, or "start".
func stepLabel(s layout.Step) string {
	if s.Count == 0 {
		return "start"
	}
	return fmt.Sprintf("remap %d %d %d", s.View, s.Count, s.File)
}

// stepCosts says, for each step, what it shows (stepStart, then stepChange's what), what it cost
// the kernel since Linux 4.0 (the VMAs split and merged) and before (one VMA throughout; what the
// call did to it), and whether the VMA is nonlinear after the last one. Before 4.0 (mm/fremap.c, see cost.go) a call on a VMA not yet
// nonlinear whose first page was already in its linear place did nothing; any other call made the
// VMA nonlinear for good and wrote a file PTE for each page of its range (install_file_pte).
func stepCosts(steps []layout.Step) (what, since, before []string, nonlinear bool) {
	for i, s := range steps {
		if i == 0 {
			what = append(what, stepStart(s.Runs))
			since = append(since, Plural(int64(len(s.Runs)), "VMA"))
			c := KernelCost(s.Runs)
			nonlinear = c.Nonlinear()
			switch {
			case c.VMAsBefore4 == 0:
				before = append(before, "no VMA")
			case nonlinear:
				before = append(before, fmt.Sprintf("1 VMA, nonlinear, with %s (the page list, as its calls leave it)", Plural(c.PTEOffsetsBefore4, "file PTE")))
			default:
				before = append(before, "1 VMA, linear")
			}
			continue
		}
		w, v := stepChange(steps[i-1].Runs, s.Runs, s)
		what, since = append(what, w), append(since, v)
		wrote := "; the call wrote " + Plural(s.Count, "file PTE")
		switch {
		case !nonlinear && s.File == s.View:
			before = append(before, "1 VMA, still linear: the call did nothing, its pages were in place")
		case !nonlinear:
			nonlinear = true
			before = append(before, "1 VMA, made nonlinear"+wrote)
		default:
			before = append(before, "1 VMA, nonlinear"+wrote)
		}
	}
	return what, since, before, nonlinear
}

// StepWords says, for each step after the first, what its call did to the VMAs (the view pages
// it remapped, then the VMA counts before and after and where VMAs were split and merged), and
// for each step what the calls up to it did to the one VMA before Linux 4.0, as the drawings of
// the steps say them. change[0] is empty: the first step is where the calls start.
func StepWords(steps []layout.Step) (change, before []string) {
	what, since, before, _ := stepCosts(steps)
	change = make([]string, len(steps))
	for i := 1; i < len(steps); i++ {
		change[i] = what[i] + ": " + since[i]
	}
	return change, before
}

// StepsText draws steps (from layout.Steps) as text: for a view of at most SmallView pages, each
// step's view as one row of boxes (one VMA each) with a mark under the pages its call changed;
// for every view what the call did to the VMAs since Linux 4.0 and what it did before. It ends
// with the view drawn as it cost the kernel before 4.0 and since, and the canonical text the layout
// reads back as. Bounded: layout.Steps yields at most layout.MaxSteps+1 steps.
func StepsText(w io.Writer, steps []layout.Step, info Info) error {
	var b bytes.Buffer
	if len(steps) == 0 {
		_, err := io.WriteString(w, "no steps\n")
		return err
	}
	pages := run.ViewPages(steps[0].Runs)
	calls := len(steps) - 1
	fmt.Fprintf(&b, "the view after each of %s, made in order on one mapping\n", Plural(int64(calls), "remap call"))
	if calls > 0 && steps[1].Line == 0 {
		b.WriteString("(a page list has no calls of its own: these are the calls that build it, as nlfs\n")
		b.WriteString("makes them: the store mapped in order, then one call per run not in place)\n")
	}
	b.WriteString("[ ]: one VMA. Since Linux 4.0 each call maps its range anew: one VMA per run.\n")
	b.WriteString("     Before 4.0 the mapping stayed one VMA: the first call that moved a page\n")
	b.WriteString("     made it nonlinear, for good, and each call wrote a file PTE for every page\n")
	b.WriteString("     of its range (a page-table entry that holds the page's file offset)\n")
	b.WriteString("numbers: the store page each view page shows; ^: the pages the call remapped\n\n")
	small := pages > 0 && pages <= SmallView
	cw, label := 1, gridLabel
	for _, s := range steps {
		for _, r := range s.Runs {
			cw = max(cw, len(strconv.FormatInt(r.File+r.Count-1, 10)))
		}
	}
	cw = max(cw, len(strconv.FormatInt(pages-1, 10)))
	oneLine := gridGroup(cw, label) >= int(pages)
	numbers := gridRow{label: "view page"}
	for v := range pages {
		numbers.cells = append(numbers.cells, strconv.FormatInt(v, 10))
	}
	if small {
		writeGrid(&b, []gridRow{numbers}, cw, label)
	}
	what, since, before, sticky := stepCosts(steps)
	for i, s := range steps {
		// The sentences first, then the view it leaves: a description beside the row would not
		// fit in 80 columns.
		fmt.Fprintf(&b, "%s: %s\n  since 4.0:  %s\n  before 4.0: %s\n", stepLabel(s), what[i], since[i], before[i])
		if !small {
			continue
		}
		writeGrid(&b, []gridRow{stepRow("", s.Runs)}, cw, label)
		if i > 0 && oneLine {
			marks := []byte(strings.Repeat(" ", label+int(pages)*(cw+2)))
			for v := s.View; v < s.View+s.Count; v++ {
				marks[int64(label)+v*int64(cw+2)+int64(cw)-1] = '^'
			}
			b.Write(bytes.TrimRight(marks, " "))
			b.WriteByte('\n')
		}
	}
	last := steps[len(steps)-1].Runs
	c := KernelCost(last)
	fmt.Fprintf(&b, "\nafter %s, the same view before Linux 4.0 and since:\n", Plural(int64(calls), "remap call"))
	end, more := costBefore(c, sticky), []string(nil)
	switch {
	case !c.Nonlinear():
	case small:
		old := stepRow("before 4.0", last)
		for k := range old.boxes {
			old.boxes[k] = 0
		}
		writeGrid(&b, []gridRow{numbers, old, {label: "file PTE", cells: pteCells(run.Pages(last), 0)}, stepRow("since 4.0", last)}, cw, label)
		end += " (" + pteRowNote + ")"
	default:
		end += pteColumnIntro
		more = []string{pteColumn(last)}
	}
	writeCost(&b, end, more, costSince(c, false, info.Backend))
	fmt.Fprintf(&b, "reading layout gives the view, not the calls: %s", layout.Canonical(last))
	_, err := w.Write(b.Bytes())
	return err
}

// stepRow is a row of the steps' grid: the store page each view page shows, a box per run.
func stepRow(label string, runs []run.Run) gridRow {
	row := gridRow{label: label}
	for k, r := range runs {
		for j := range r.Count {
			row.cells = append(row.cells, strconv.FormatInt(r.File+j, 10))
			row.boxes = append(row.boxes, k)
		}
	}
	return row
}

// svgStepCells is how many pages the step picture draws in all (64 steps of a 64-page view).
const svgStepCells = 64 * 64

// StepsSVG draws the same as a picture: a row of boxes per step (one VMA each since Linux 4.0),
// the pages each call changed highlighted, what it did to the VMAs since 4.0 and before beside it;
// then the view as it cost the kernel before 4.0 (one VMA, and under it the file PTEs) and since,
// and a legend. Views over SmallView pages get the lines of text alone. Bounded like StepsText.
func StepsSVG(w io.Writer, steps []layout.Step, info Info) error {
	s := &svgDoc{}
	var pages int64
	if len(steps) > 0 {
		pages = run.ViewPages(steps[0].Runs)
	}
	calls := max(len(steps)-1, 0)
	// Titled as map.svg is ("nlfs map: N view pages, ..."), which is what it is, step by step.
	title := fmt.Sprintf("nlfs map: %s, step by step: the view after each of %s", Plural(pages, "view page"), Plural(int64(calls), "remap call"))
	sub := "the view after each call, made in order on one mapping; what each call cost the kernel since Linux 4.0, and before"
	if calls > 0 && steps[1].Line == 0 {
		sub = "a page list has no calls of its own: the calls that build it (the store mapped in order, then one call per run not in place); their cost since Linux 4.0, and before"
	}
	small := pages > 0 && pages <= SmallView
	digits := len(strconv.FormatInt(max(pages-1, 0), 10))
	for _, st := range steps {
		for _, r := range st.Runs {
			digits = max(digits, len(strconv.FormatInt(r.File+r.Count-1, 10)))
		}
	}
	cell := max(28, float64(8*digits+10))
	labelW := svgTextWidth("before 4.0", svgCharMono)
	whats, since, before, sticky := stepCosts(steps)
	for i, st := range steps {
		labelW = max(labelW, svgTextWidth(stepLabel(st), svgCharMono))
		since[i] = "since 4.0: " + since[i]
		before[i] = "before 4.0: " + before[i]
	}
	left := svgMargin + labelW + 14
	const rowH, boxH = 44.0, 26.0
	// Boxes sit side by side with no gap, so that a view page keeps its column from step to step.
	right := left
	if small {
		right = left + cell*float64(pages) + 14
	}
	top := 86.0
	var last []run.Run
	if len(steps) > 0 {
		last = steps[len(steps)-1].Runs
	}
	cost := KernelCost(last)
	drawEnd := small && cost.Nonlinear()
	endBefore := costBefore(cost, sticky)
	switch {
	case drawEnd:
		endBefore += " (" + pteRowNote + ")"
	case cost.Nonlinear():
		endBefore += pteColumnIntro + " " + pteColumn(last)
	}
	endLines := wrapWords("before 4.0: "+endBefore, 130)
	endSince := "since 4.0: " + costSince(cost, false, info.Backend)
	foot := "reading layout gives the view, not the calls: " + strings.TrimSpace(layout.Canonical(last))
	var legend []svgLegendItem
	legend = append(legend, svgLegendItem{"vma", "one VMA since Linux 4.0: a run, view pages that show store pages ascending by one; the numbers are the store pages they show"})
	if small && calls > 0 {
		legend = append(legend, svgLegendItem{"changed", "the view pages the call remapped"})
	}
	if drawEnd {
		legend = append(legend, svgPTELegend(run.Pages(last))...)
	}

	width := svgMargin + svgTextWidth(title, svgCharSans*1.35) + svgMargin
	width = max(width, svgMargin+svgTextWidth(sub, svgCharSans)+svgMargin)
	for i := range steps {
		width = max(width, right+svgTextWidth(whats[i], svgCharSans)+svgMargin)
		width = max(width, right+svgTextWidth(since[i], svgCharSans*0.92)+svgMargin)
		width = max(width, right+svgTextWidth(before[i], svgCharSans*0.92)+svgMargin)
	}
	for _, l := range append(endLines, endSince, foot) {
		width = max(width, svgMargin+svgTextWidth(l, svgCharSans)+svgMargin)
	}
	for _, l := range legend {
		width = max(width, svgMargin+34+svgTextWidth(l.text, svgCharSans)+svgMargin)
	}
	endY := top + rowH*float64(len(steps)) + 30 // the before-and-since block
	textY := endY + 10
	if drawEnd {
		textY = endY + 2*rowH + svgPTEH + 26
	}
	lines := append(endLines, endSince, foot)
	legendY := textY + svgLineH*float64(len(lines)) + 16
	height := legendY + svgLineH*float64(len(legend)) + 8
	s.open(width, height, title)
	s.defs()
	s.b.WriteString(`<g id="heading">` + "\n")
	s.text(svgMargin, 26, `font-size="16" font-weight="bold"`, title)
	s.text(svgMargin, 46, "", sub)
	s.b.WriteString("</g>\n")
	if small {
		s.text(svgMargin, top-8, `font-size="10" fill="#666"`, "view page")
		for v := range pages {
			s.text(left+cell*float64(v)+cell/2, top-8, `text-anchor="middle" font-size="10" fill="#666"`, strconv.FormatInt(v, 10))
		}
	}
	for i, st := range steps {
		y := top + rowH*float64(i)
		s.text(svgMargin, y+boxH/2+4, `font-family="DejaVu Sans Mono, monospace" font-size="11" font-weight="bold"`, stepLabel(st))
		// Each drawn page costs some 200 bytes: past svgStepCells pages in all, the steps are
		// described without their boxes, so that the picture stays under a mebibyte.
		if small && int64(i+1)*pages <= svgStepCells {
			var changed func(v int64) bool
			if i > 0 {
				changed = func(v int64) bool { return v >= st.View && v < st.View+st.Count }
			}
			s.stepBoxes(left, y, cell, boxH, st.Runs, run.Pages(st.Runs), false, changed)
		}
		s.text(right, y+9, "", whats[i])
		s.text(right, y+23, `font-size="11" fill="`+svgLink+`"`, since[i])
		s.text(right, y+36, `font-size="11" fill="`+svgOld+`"`, before[i])
	}
	s.text(svgMargin, endY, `font-weight="bold"`, fmt.Sprintf("after %s, the same view before Linux 4.0 and since", Plural(int64(calls), "remap call")))
	if drawEnd {
		shows := run.Pages(last)
		y := endY + 12
		s.text(svgMargin, y+boxH/2+4, `font-family="DejaVu Sans Mono, monospace" font-size="11" font-weight="bold" fill="`+svgOld+`"`, "before 4.0")
		s.stepBoxes(left, y, cell, boxH, []run.Run{{View: 0, File: 0, Count: pages}}, shows, true, nil)
		y += boxH + 6
		s.text(svgMargin, y+12, `font-family="DejaVu Sans Mono, monospace" font-size="11" fill="#666"`, "file PTE")
		for v, f := range shows {
			s.pteChip(left+cell*float64(v), y, cell, int64(v), f, info)
		}
		y += svgPTEH + rowH - boxH
		s.text(svgMargin, y+boxH/2+4, `font-family="DejaVu Sans Mono, monospace" font-size="11" font-weight="bold"`, "since 4.0")
		s.stepBoxes(left, y, cell, boxH, last, shows, false, nil)
	}
	for i, l := range lines {
		colour := svgOld
		switch {
		case i == len(lines)-1:
			colour = "#444"
		case i == len(lines)-2:
			colour = svgLink
		}
		s.text(svgMargin, textY+svgLineH*float64(i), `fill="`+colour+`"`, l)
	}
	s.legend(legendY, legend)
	s.close()
	_, err := w.Write(s.b.Bytes())
	return err
}

// stepBoxes draws one row of the steps' picture: a box per run of boxes (inset a little, so that
// two neighbours read as two while every view page keeps its column), in blue, or in purple for
// the one VMA before Linux 4.0 (old); in each view page's cell the number shows holds for it; the
// pages changed (changed may be nil) in yellow.
func (s *svgDoc) stepBoxes(left, y, cell, boxH float64, boxes []run.Run, shows []int64, old bool, changed func(v int64) bool) {
	fill, stroke, ink, word := svgViewFill, svgLink, svgInk, "VMA"
	if old {
		fill, stroke, ink, word = svgOldBG, svgOld, svgOld, "before Linux 4.0, the one VMA"
	}
	x := left
	for k, r := range boxes {
		tip := fmt.Sprintf("%s %d: view %s shows store %s", word, k+1, spanText(r.View, r.Count), spanText(r.File, r.Count))
		if old {
			tip = fmt.Sprintf("%s: view %s, each page's file offset held in its page-table entry", word, spanText(r.View, r.Count))
		}
		s.b.WriteString("<g><title>")
		xml.EscapeText(&s.b, []byte(tip))
		s.b.WriteString("</title>")
		s.rect(x+1.5, y, cell*float64(r.Count)-3, boxH, fmt.Sprintf(`rx="3" fill="%s" stroke="%s" stroke-width="1.4"`, fill, stroke))
		s.b.WriteString("</g>\n")
		for j := range r.Count {
			v := r.View + j
			cx := x + cell*float64(j)
			if changed != nil && changed(v) {
				s.rect(cx+3, y+2, cell-6, boxH-4, `rx="2" fill="`+svgChanged+`"`)
			}
			if j > 0 {
				s.vline(cx, y+1, y+boxH-1, svgCellLine)
			}
			if v < int64(len(shows)) {
				s.text(cx+cell/2, y+boxH/2+5, `text-anchor="middle" font-size="13" fill="`+ink+`"`, strconv.FormatInt(shows[v], 10))
			}
		}
		x += cell * float64(r.Count)
	}
}
