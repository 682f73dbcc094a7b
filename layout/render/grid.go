package render

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nlfs/nlfs/run"
)

// The text map of a small view is drawn as TLPI Figure 49-5 is, without its crossing arrows: two
// figures of labelled rows whose columns line up. The view's (the memory region) says, for each view
// page, what it holds and which store page it shows; the store's (the file) says, for each store
// page, what it holds and which view page shows it. A [box] is one VMA (without a mount, the VMA
// remap_file_pages would make: one per run), so the kernel's side is drawn too; the store is one
// file, not a VMA, and has no brackets. A third figure draws what the same view cost before Linux
// 4.0: one VMA over it all, and the file offset the page-table entry of each page away from its
// linear place held:
//
//	view page   0  1  2  3  4  5
//	view       [E  F][C  D  E  F]
//	store page  4  5  2  3  4  5
//
//	store page  0  1  2  3  4  5
//	store       A  B  C  D  E  F
//	shown at    -  -  2  3  *  *
//
//	view page   0  1  2  3  4  5
//	before 4.0 [E  F  C  D  E  F]
//	file PTE    4  5  -  -  -  -
//	since 4.0  [E  F][C  D  E  F]

// gridRow is one labelled row of a figure: a cell per column and, for a row of boxes, the box of
// each column (-1 outside every box).
type gridRow struct {
	label string
	cells []string
	boxes []int
}

const (
	gridLabel     = len("store page  ") // the labels' column
	gridMaxGroups = 6                   // a figure that needs more lines of columns than this is left out
)

// gridGroup is how many columns of width cw fit on one line after labels of width label.
func gridGroup(cw, label int) int { return max(1, (mapTextWidth-label-1)/(cw+2)) }

// writeGrid writes rows whose cells are at most cw wide, in groups of columns that fit the
// terminal. Each cell takes two characters of separator and cw of content (right-aligned); the
// separators hold the boxes' brackets, so "][" between two boxes costs no column. A box cut by the
// end of a line stays open there and on the next.
func writeGrid(b *bytes.Buffer, rows []gridRow, cw, label int) {
	n := len(rows[0].cells)
	g := gridGroup(cw, label)
	for start := 0; start < n; start += g {
		end := min(start+g, n)
		if start > 0 {
			b.WriteByte('\n')
		}
		for _, r := range rows {
			var s strings.Builder
			fmt.Fprintf(&s, "%-*s", label-2, r.label)
			for i := start; i < end; i++ {
				s.WriteString(gridSep(r.boxes, i, start))
				c := r.cells[i]
				s.WriteString(strings.Repeat(" ", max(0, cw-utf8.RuneCountInString(c))))
				s.WriteString(c)
			}
			if r.boxes != nil && r.boxes[end-1] >= 0 && (end == n || r.boxes[end] != r.boxes[end-1]) {
				s.WriteByte(']')
			}
			b.WriteString(strings.TrimRight(s.String(), " "))
			b.WriteByte('\n')
		}
	}
}

// gridSep is the two characters before column i of a row whose group starts at column start.
func gridSep(boxes []int, i, start int) string {
	if boxes == nil {
		return "  "
	}
	cur := boxes[i]
	prev := -1
	if i > start {
		prev = boxes[i-1]
	} else if i > 0 && boxes[i-1] == cur {
		return "  " // the box goes on from the line before
	}
	switch {
	case prev == cur:
		return "  "
	case prev >= 0 && cur >= 0:
		return "]["
	case prev >= 0:
		return "] "
	case cur >= 0:
		return " ["
	}
	return "  "
}

// gridLines is how many lines writeGrid takes.
func gridLines(rows []gridRow, cw, label int) int {
	g := gridGroup(cw, label)
	groups := (len(rows[0].cells) + g - 1) / g
	return groups*len(rows) + groups - 1
}

// storeColumn is one column of the store's figure: a store page, or a mark between two store pages
// that are not side by side in the store ("…") or on either side of its end ("|").
type storeColumn struct {
	page int64
	mark string
}

func storeColumns(cols []int64, st *mapStats) []storeColumn {
	var out []storeColumn
	for i, f := range cols {
		if i > 0 {
			switch prev := cols[i-1]; {
			case st.dataKnown && prev < st.dataPages && f >= st.dataPages:
				out = append(out, storeColumn{page: -1, mark: "|"})
			case f != prev+1:
				out = append(out, storeColumn{page: -1, mark: "…"})
			}
		}
		out = append(out, storeColumn{page: f})
	}
	return out
}

// textSmall draws a view of at most SmallView pages: the two figures and what they mean, the VMAs
// (or runs) one per line, then one row per view page ("view 0 -> store 2").
func textSmall(b *bytes.Buffer, runs []run.Run, st *mapStats, info Info) {
	pages := run.Pages(runs)
	views := mapViewsOf(pages)
	boxes, kernel := mapBoxes(runs, pages, info)
	cols := storeColumns(mapStoreColumns(pages, views, st, SmallView), st)
	num := func(n int64) string { return strconv.FormatInt(n, 10) }

	cw := len(num(int64(len(pages) - 1)))
	for _, f := range pages {
		cw = max(cw, len(num(f)))
	}
	for _, c := range cols {
		if c.mark == "" {
			cw = max(cw, len(num(c.page)))
		}
	}

	// The view's figure.
	viewRow := gridRow{label: "view", boxes: make([]int, len(pages))}
	numbers, shows := gridRow{label: "view page"}, gridRow{label: "store page"}
	for i, bx := range boxes {
		for v := bx.View; v < bx.View+bx.Count; v++ {
			viewRow.boxes[v] = i
		}
	}
	for v, f := range pages {
		numbers.cells = append(numbers.cells, num(int64(v)))
		viewRow.cells = append(viewRow.cells, info.letter(f, st))
		shows.cells = append(shows.cells, num(f))
	}
	// The store's figure. The store is one file, not a VMA: its row has no brackets.
	storeNumbers, storeRow, shownAt := gridRow{label: "store page"}, gridRow{label: "store"}, gridRow{label: "shown at"}
	unshown := false
	var aliased []int64
	for _, c := range cols {
		if c.mark != "" {
			storeNumbers.cells = append(storeNumbers.cells, c.mark)
			storeRow.cells = append(storeRow.cells, c.mark)
			shownAt.cells = append(shownAt.cells, "")
			continue
		}
		storeNumbers.cells = append(storeNumbers.cells, num(c.page))
		storeRow.cells = append(storeRow.cells, info.letter(c.page, st))
		if st.past(c.page) {
			storeRow.cells[len(storeRow.cells)-1] = "" // not in the store at all
		}
		switch v := views[c.page]; len(v) {
		case 0:
			shownAt.cells = append(shownAt.cells, "-")
			unshown = true
		case 1:
			shownAt.cells = append(shownAt.cells, num(v[0]))
		default:
			shownAt.cells = append(shownAt.cells, "*")
			aliased = append(aliased, c.page)
		}
	}
	viewRows := []gridRow{numbers, viewRow, shows}
	storeRows := []gridRow{storeNumbers, storeRow, shownAt}
	if info.FirstByte == nil {
		storeRows = []gridRow{storeNumbers, shownAt} // a row of nothing but marks says nothing
	}
	drawn := gridLines(viewRows, cw, gridLabel) <= gridMaxGroups*4 && gridLines(storeRows, cw, gridLabel) <= gridMaxGroups*4
	if drawn {
		writeGrid(b, viewRows, cw, gridLabel)
		b.WriteByte('\n')
		writeGrid(b, storeRows, cw, gridLabel)
		b.WriteByte('\n')
		switch {
		case kernel:
			b.WriteString("[ ]: one VMA, as vmas lists them: a run, view pages that show store pages\n")
			b.WriteString("     ascending by one (N, N+1, …)\n")
		case info.Backend == "gather":
			b.WriteString("[ ]: one VMA as remap_file_pages makes it since Linux 4.0, one per run (view\n")
			b.WriteString("     pages that show store pages ascending by one); the gather backend maps none\n")
		default:
			b.WriteString("[ ]: one VMA as remap_file_pages makes it since Linux 4.0, one per run (view\n")
			b.WriteString("     pages that show store pages ascending by one)\n")
		}
		if info.FirstByte != nil {
			b.WriteString("letters: the first byte of each page (. when it is not a printable character)\n")
			b.WriteString("store: the file data, page by page: one file, not a VMA (so no brackets)\n")
		}
		note := "shown at: the view page that shows the store page"
		if unshown {
			note += "; - none (nothing shows it)"
		}
		if len(aliased) > 0 {
			note += "; * several (aliased, below)"
		}
		b.WriteString(note + "\n")
		const most = 8
		for i, f := range aliased {
			if i == most {
				fmt.Fprintf(b, "  ... and %d more aliased store pages\n", len(aliased)-most)
				break
			}
			fmt.Fprintf(b, "  store page %d is shown at view pages %s\n", f, mapPageList(views[f], -1, mapAliasItems))
		}
		if st.pastData > 0 {
			b.WriteString("|: the end of data; view pages that show store pages past it read as zeros\n")
		}
		if hasMark(cols, "…") {
			b.WriteString("…: store pages left out between two drawn ones\n")
		}
	} else {
		b.WriteString("(page numbers too wide for the figures: the view page by page below)\n")
	}
	b.WriteByte('\n')
	textCostSmall(b, pages, viewRow, kernel, st, info, cw, drawn)
	b.WriteByte('\n')
	textBoxes(b, boxes, kernel, info)
	b.WriteByte('\n')
	textRows(b, pages, views, st, info)
}

// textBoxes lists the VMAs of a small view with the columns of their `vmas` lines, or, when the
// kernel's side is unknown, its runs.
func textBoxes(b *bytes.Buffer, boxes []mapBox, kernel bool, info Info) {
	const most = 16
	switch {
	case kernel:
		fmt.Fprintf(b, "VMAs (cat vmas): address range, permissions (s: shared), file offset in hex (store page × %d)\n", info.pageSize())
	case info.Backend == "gather":
		b.WriteString("no VMAs: the gather backend maps no runs (it copies them); runs:\n")
	default:
		b.WriteString("runs (the kernel holds one VMA for each run it maps):\n")
	}
	vw, fw := 0, 0
	for _, bx := range boxes[:min(len(boxes), most)] {
		vw = max(vw, len(spanText(bx.View, bx.Count)))
		fw = max(fw, len(spanText(bx.File, bx.Count)))
	}
	iw := len(strconv.Itoa(min(len(boxes), most)))
	for i, bx := range boxes {
		if i == most {
			fmt.Fprintf(b, "  ... and %d more\n", len(boxes)-most)
			break
		}
		line := fmt.Sprintf("  %*d  view %-*s <- store %-*s", iw, i+1, vw, spanText(bx.View, bx.Count), fw, spanText(bx.File, bx.Count))
		if bx.Line != "" {
			line += "  " + mapsColumns(bx.Line)
		}
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
}

// textRows writes one row per view page: the store page it shows, what it holds, its physical
// frame, and whether it is an alias or past the end of data.
func textRows(b *bytes.Buffer, pages []int64, views map[int64][]int64, st *mapStats, info Info) {
	vw := len(strconv.Itoa(len(pages) - 1))
	fw := 0
	for _, f := range pages {
		fw = max(fw, len(strconv.FormatInt(f, 10)))
	}
	frames := info.Frames
	if len(frames) != len(pages) {
		frames = nil
	}
	for v, f := range pages {
		row := fmt.Sprintf("view %*d -> store %*d", vw, v, fw, f)
		if l := info.letter(f, st); l != "" {
			row += "  '" + l + "'"
		}
		if frames != nil {
			if frames[v] == 0 {
				row += "  frame -"
			} else {
				row += "  frame " + info.frameName(frames[v])
			}
		}
		var notes []string
		if others := views[f]; len(others) > 1 {
			notes = append(notes, "alias: also at view "+mapPageList(others, int64(v), mapAliasItems))
		}
		if st.past(f) {
			notes = append(notes, "past the end of data: reads as zeros")
		}
		if len(notes) > 0 {
			row += "  (" + strings.Join(notes, "; ") + ")"
		}
		b.WriteString(row)
		b.WriteByte('\n')
	}
}

// hasMark reports whether the store's columns hold the mark m.
func hasMark(cols []storeColumn, m string) bool {
	for _, c := range cols {
		if c.mark == m {
			return true
		}
	}
	return false
}

// textCostSmall draws what a small view costs the kernel before Linux 4.0 beside what it costs
// since: one VMA, and under it the file offset the page-table entry of each page away from its
// linear place held, above today's VMAs, a column per view page. A view with every page in place
// cost one linear VMA, and says so in a line.
func textCostSmall(b *bytes.Buffer, pages []int64, since gridRow, kernel bool, st *mapStats, info Info, cw int, drawn bool) {
	c := st.cost
	b.WriteString("the same view before Linux 4.0 and since:\n")
	before := costBefore(c, false)
	if c.Nonlinear() && drawn {
		numbers := gridRow{label: "view page"}
		old := gridRow{label: "before 4.0", boxes: make([]int, len(pages))}
		for v := range pages {
			numbers.cells = append(numbers.cells, strconv.Itoa(v))
			old.cells = append(old.cells, since.cells[v])
		}
		since.label = "since 4.0"
		writeGrid(b, []gridRow{numbers, old, {label: "file PTE", cells: pteCells(pages, 0)}, since}, cw, gridLabel)
		before += " (" + pteRowNote + ")"
	}
	writeCost(b, before, nil, costSince(c, kernel, info.Backend))
}
