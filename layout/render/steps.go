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

// StepChange says what one call did to the VMAs: the view pages it remapped, the VMA counts before
// and after (one per run), and where old VMAs were split and the new one merged.
func StepChange(before, after []run.Run, s layout.Step) string {
	what, vmas := stepChange(before, after, s)
	return what + ": " + vmas
}

// stepChange is StepChange in two parts: what the call shows, and what it did to the VMAs.
func stepChange(before, after []run.Run, s layout.Step) (what, vmas string) {
	if s.Count == 1 {
		what = fmt.Sprintf("view page %d shows store page %d", s.View, s.File)
	} else {
		what = fmt.Sprintf("view pages %s show store pages %s", spanText(s.View, s.Count), spanText(s.File, s.Count))
	}
	n0, n1 := len(before), len(after)
	pages := run.ViewPages(after)
	if stepSame(before, after) {
		return what, "as before, still " + vmaCount(n1)
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
	return what, fmt.Sprintf("%s -> %d (%s)", vmaCount(n0), n1, strings.Join(how, "; "))
}

func callCount(n int) string {
	if n == 1 {
		return "1 remap call"
	}
	return strconv.Itoa(n) + " remap calls"
}

func vmaCount(n int) string {
	if n == 1 {
		return "1 VMA"
	}
	return strconv.Itoa(n) + " VMAs"
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
		return fmt.Sprintf("store pages 0-%d in order: %s", runs[0].Count-1, vmaCount(1))
	}
	return "the page list: " + vmaCount(len(runs))
}

// stepLabel is a step's name: its call, or "start".
func stepLabel(s layout.Step) string {
	if s.Count == 0 {
		return "start"
	}
	return fmt.Sprintf("remap %d %d %d", s.View, s.Count, s.File)
}

// StepsText draws steps (from layout.Steps) as text: for a view of at most SmallView pages, each
// step's view as one row of boxes (one per run) with a mark under the pages its call changed and
// what the call did to the VMAs; for larger views only what each call did. It ends with the canonical
// text the layout reads back as. Bounded: layout.Steps yields at most layout.MaxSteps+1 steps.
func StepsText(w io.Writer, steps []layout.Step, info Info) error {
	var b bytes.Buffer
	if len(steps) == 0 {
		_, err := io.WriteString(w, "no steps\n")
		return err
	}
	pages := run.ViewPages(steps[0].Runs)
	calls := len(steps) - 1
	fmt.Fprintf(&b, "the view after each of %s, made in order on one mapping\n", callCount(calls))
	b.WriteString("[ ]: one run; a view mapped by remap_file_pages holds one VMA per run\n\n")
	small := pages > 0 && pages <= SmallView
	cw, label := 1, len("view page  ")
	for _, s := range steps {
		for _, r := range s.Runs {
			cw = max(cw, len(strconv.FormatInt(r.File+r.Count-1, 10)))
		}
	}
	cw = max(cw, len(strconv.FormatInt(pages-1, 10)))
	oneLine := gridGroup(cw, label) >= int(pages)
	if small {
		numbers := gridRow{label: "view page"}
		for v := range pages {
			numbers.cells = append(numbers.cells, strconv.FormatInt(v, 10))
		}
		writeGrid(&b, []gridRow{numbers}, cw, label)
	}
	for i, s := range steps {
		var change string
		if i == 0 {
			change = stepStart(s.Runs)
		} else {
			change = StepChange(steps[i-1].Runs, s.Runs, s)
		}
		// The sentence first, then the view it leaves: a description beside the row would not
		// fit in 80 columns.
		fmt.Fprintf(&b, "%s: %s\n", stepLabel(s), change)
		if !small {
			continue
		}
		row := gridRow{label: "", boxes: make([]int, 0, pages)}
		for k, r := range s.Runs {
			for j := range r.Count {
				row.cells = append(row.cells, strconv.FormatInt(r.File+j, 10))
				row.boxes = append(row.boxes, k)
			}
		}
		writeGrid(&b, []gridRow{row}, cw, label)
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
	fmt.Fprintf(&b, "\nafter %s: %s; reading layout gives the view, not the calls: %s", callCount(calls), vmaCount(len(last)), layout.Canonical(last))
	_, err := w.Write(b.Bytes())
	return err
}

// svgStepCells is how many pages the step picture draws in all (64 steps of a 64-page view).
const svgStepCells = 64 * 64

// StepsSVG draws the same as a picture: a row of boxes per step, the pages each call changed
// highlighted, what it did to the VMAs beside it. Views over SmallView pages get the lines of text
// alone. Bounded like StepsText.
func StepsSVG(w io.Writer, steps []layout.Step, info Info) error {
	s := &svgDoc{}
	var pages int64
	if len(steps) > 0 {
		pages = run.ViewPages(steps[0].Runs)
	}
	calls := max(len(steps)-1, 0)
	// Titled as map.svg is ("nlfs map: N view pages, ..."), which is what it is, step by step.
	title := fmt.Sprintf("nlfs map: %d view pages, step by step: the view after each of %s", pages, callCount(calls))
	sub := "the view after each call, made in order on one mapping: a box is one run, and a view mapped by remap_file_pages holds one VMA per run"
	small := pages > 0 && pages <= SmallView
	digits := len(strconv.FormatInt(max(pages-1, 0), 10))
	for _, st := range steps {
		for _, r := range st.Runs {
			digits = max(digits, len(strconv.FormatInt(r.File+r.Count-1, 10)))
		}
	}
	cell := max(28, float64(8*digits+10))
	labelW := 0.0
	changes := make([]string, len(steps))
	for i, st := range steps {
		labelW = max(labelW, svgTextWidth(stepLabel(st), svgCharMono))
		if i == 0 {
			changes[i] = stepStart(st.Runs)
		} else {
			_, changes[i] = stepChange(steps[i-1].Runs, st.Runs, st)
		}
	}
	left := svgMargin + labelW + 14
	const rowH, boxH = 36.0, 26.0
	// Boxes sit side by side with no gap, so that a view page keeps its column from step to step.
	right := left
	if small {
		right = left + cell*float64(pages) + 14
	}
	top := 96.0
	width := svgMargin + svgTextWidth(title, svgCharSans*1.35) + svgMargin
	width = max(width, svgMargin+svgTextWidth(sub, svgCharSans)+svgMargin)
	for _, c := range changes {
		width = max(width, right+svgTextWidth(c, svgCharSans)+svgMargin)
	}
	last := []run.Run(nil)
	if len(steps) > 0 {
		last = steps[len(steps)-1].Runs
	}
	foot := fmt.Sprintf("after %s: %s; reading layout gives the view, not the calls: %s", callCount(calls), vmaCount(len(last)), strings.TrimSpace(layout.Canonical(last)))
	width = max(width, svgMargin+svgTextWidth(foot, svgCharSans)+svgMargin)
	height := top + rowH*float64(len(steps)) + 40
	s.open(width, height, title)
	s.text(svgMargin, 26, `font-size="16" font-weight="bold"`, title)
	s.text(svgMargin, 46, "", sub)
	if small {
		s.text(svgMargin, top-8, `font-size="10" fill="#666"`, "view page")
	}
	for i, st := range steps {
		y := top + rowH*float64(i)
		s.text(svgMargin, y+boxH/2+4, `font-family="DejaVu Sans Mono, monospace" font-size="11" font-weight="bold"`, stepLabel(st))
		// Each drawn page costs some 200 bytes: past svgStepCells pages in all, the steps are
		// described without their boxes, so that the picture stays under a mebibyte.
		if small && int64(i+1)*pages <= svgStepCells {
			x := left
			for k, r := range st.Runs {
				fill := svgViewFill
				if k%2 == 1 {
					fill = svgRunFillB
				}
				s.b.WriteString("<g><title>")
				xml.EscapeText(&s.b, []byte(fmt.Sprintf("run %d: view %s shows store %s", k+1, spanText(r.View, r.Count), spanText(r.File, r.Count))))
				s.b.WriteString("</title>")
				s.rect(x, y, cell*float64(r.Count), boxH, fmt.Sprintf(`rx="3" fill="%s" stroke="%s" stroke-width="1.4"`, fill, svgLink))
				s.b.WriteString("</g>\n")
				for j := range r.Count {
					v := r.View + j
					cx := x + cell*float64(j)
					if i > 0 && v >= st.View && v < st.View+st.Count {
						s.rect(cx+2, y+2, cell-4, boxH-4, `rx="2" fill="`+svgChanged+`"`)
					}
					if j > 0 {
						s.vline(cx, y+1, y+boxH-1, svgCellLine)
					}
					if i == 0 {
						s.text(cx+cell/2, top-8, `text-anchor="middle" font-size="10" fill="#666"`, strconv.FormatInt(v, 10))
					}
					s.text(cx+cell/2, y+boxH/2+5, `text-anchor="middle" font-size="13"`, strconv.FormatInt(r.File+j, 10))
				}
				x += cell * float64(r.Count)
			}
		}
		s.text(right, y+boxH/2+4, "", changes[i])
	}
	s.text(svgMargin, top+rowH*float64(len(steps))+14, `fill="#444"`, foot)
	s.text(svgMargin, 64, `font-size="11" fill="#666"`, "numbers in the boxes: the store page each view page shows · yellow: the view pages the call remapped")
	s.close()
	_, err := w.Write(s.b.Bytes())
	return err
}
