package render

import (
	"encoding/xml"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/nlfs/nlfs/run"
)

// Geometry of the small picture, in pixels.
const (
	svgMargin    = 16.0
	svgLabelW    = 84.0 // the row labels' column
	svgCellH     = 40.0
	svgBoxInset  = 2.5  // a VMA's box is this much inside its pages' cells, so two neighbours read as two
	svgLanePitch = 7.0  // between two arrows' lanes
	svgMarkW     = 24.0 // a "…" or end-of-data mark between store pages
	svgLineH     = 17.0 // a line of the VMA table or the legend
	svgCharSans  = 6.7  // average advance of a 12px sans-serif character, to size the picture to its text
	svgCharMono  = 6.7  // advance of an 11px monospace character
)

// More colours of the small picture.
const (
	svgCellLine  = "#a9bfe2"
	svgUnshown   = "#a0a0a0"
	svgChanged   = "#fff1a6" // the pages a step's call changed
	svgOld       = "#7a4fb0" // before Linux 4.0: the one nonlinear VMA and its page-table entries
	svgOldBG     = "#f1eafa"
	svgStoreLine = "#555"
)

// svgTextWidth estimates how wide text is drawn, so that the picture is as wide as what it holds
// and no wider: a 3-page view is not a 900-pixel-wide page of white.
func svgTextWidth(s string, char float64) float64 { return float64(utf8.RuneCountInString(s)) * char }

// small draws TLPI Figure 49-5 with the kernel's side: the view on top, one box per VMA (or run)
// labelled with its number in the table of `vmas` lines below; the store underneath; an arrow from
// each store page to each view page that shows it. Above the view, what the same view cost before
// Linux 4.0: one VMA over all of it, and under each page its page-table entry: a file PTE holding
// the page's file offset for a page away from its linear place, none for a page in it. Every row
// has the same columns, one per view page, so that a page keeps its column from row to row and the
// one VMA of old is one unbroken box; today's VMAs are boxes inset a little, so that two neighbours
// read as two. Aliases are orange (arrows, store page, a bar under each view page that shows one),
// store pages nothing shows are hatched grey, pages past the end of data dashed; the legend names
// each.
func (s *svgDoc) small(runs []run.Run, st *mapStats, info Info) {
	pages := run.Pages(runs)
	views := mapViewsOf(pages)
	boxes, kernel := mapBoxes(runs, pages, info)
	cols := storeColumns(mapStoreColumns(pages, views, st, SmallView), st)
	digits := len(strconv.Itoa(len(pages) - 1))
	for _, c := range cols {
		if c.mark == "" {
			digits = max(digits, len(strconv.FormatInt(c.page, 10)))
		}
	}
	// Few pages get big cells, so that the figure, not the text, fills the picture.
	cell := 34.0
	switch n := max(len(pages), len(cols)); {
	case n <= 12:
		cell = 50
	case n <= 24:
		cell = 40
	}
	cell = max(cell, float64(8*digits+14))
	left := svgMargin + svgLabelW
	cost := st.cost
	old := cost.Nonlinear() // draw the before-4.0 band

	viewX := make([]float64, len(pages))
	for v := range pages {
		viewX[v] = left + cell*float64(v)
	}
	viewRight := left + cell*float64(len(pages))
	storeX := make([]float64, len(cols))
	x := left
	for i, c := range cols {
		storeX[i] = x
		if c.mark != "" {
			x += svgMarkW
		} else {
			x += cell
		}
	}
	storeRight := x
	at := make(map[int64]float64, len(cols)) // centre of each store page's cell
	for i, c := range cols {
		if c.mark == "" {
			at[c.page] = storeX[i] + cell/2
		}
	}
	arrows, lanes := svgRoute(pages, viewX, at, cell)

	// The text under the figure: the VMA table, then the legend.
	var table []string
	tableHead, tableNote := "Runs", "a mapped view holds one VMA per run"
	if kernel {
		tableHead = "VMAs, as cat vmas lists them"
		tableNote = fmt.Sprintf("address range · permissions (s: shared) · file offset in hex = store page × %d", info.pageSize())
	} else if info.Backend == "gather" {
		tableNote = "no VMAs: the gather backend maps no runs, it copies them"
	}
	const most = 16
	vw, fw := 0, 0
	for _, bx := range boxes[:min(len(boxes), most)] {
		vw = max(vw, len(spanText(bx.View, bx.Count)))
		fw = max(fw, len(spanText(bx.File, bx.Count)))
	}
	for i, bx := range boxes {
		if i == most {
			table = append(table, fmt.Sprintf("… and %d more", len(boxes)-most))
			break
		}
		line := fmt.Sprintf("%s %-2d view %-*s ← store %-*s", svgBoxWord(kernel), i+1, vw, spanText(bx.View, bx.Count), fw, spanText(bx.File, bx.Count))
		if bx.Line != "" {
			line += "  " + mapsColumns(bx.Line)
		}
		table = append(table, line)
	}
	var legend []svgLegendItem
	switch {
	case old:
		legend = append(legend, svgPTELegend(pages)...)
	case cost.VMAsBefore4 > 0:
		legend = append(legend, svgLegendItem{"note", "before Linux 4.0 as since: " + unglued(costBefore(cost, false))})
	}
	if kernel {
		legend = append(legend, svgLegendItem{"vma", "since Linux 4.0: one VMA per run (view pages showing store pages ascending by one), numbered as in vmas"})
	} else {
		legend = append(legend, svgLegendItem{"vma", "one run: view pages that show store pages ascending by one; since Linux 4.0 one VMA each when mapped"})
	}
	legend = append(legend,
		svgLegendItem{"arrow", "from the store page to the view page that shows it, each arrow in a lane of its own"},
		svgLegendItem{"store", "the store: the file data, store pages in file order (one file, not a VMA)"})
	if info.FirstByte != nil {
		legend = append(legend, svgLegendItem{"letter", "the first byte of each page (· when not printable)"})
	}
	if st.aliased > 0 {
		legend = append(legend, svgLegendItem{"alias", "an alias: a store page shown at several view pages (×N: how many), its arrows orange, a bar under each: one page, not copies"})
	}
	for _, c := range cols {
		if c.mark == "" && len(views[c.page]) == 0 {
			legend = append(legend, svgLegendItem{"unshown", "a store page that no view page shows"})
			break
		}
	}
	if hasMark(cols, "…") {
		legend = append(legend, svgLegendItem{"gap", "store pages left out between two drawn ones"})
	}
	if st.pastData > 0 {
		legend = append(legend, svgLegendItem{"past", "past the end of data (right of the dashed line; its arrows dashed): reads as zeros; nlfs never touches it (the kernel would raise SIGBUS)"})
	}

	// Vertical layout: view page numbers; the view before 4.0 and its page-table entries; the
	// VMAs' labels and the view since 4.0; the arrows' lanes; the store.
	top := svgHeadingHeight(st, info) + 22
	numY := top + 2 // view page numbers
	beforeY := numY + 8
	pteY := beforeY + svgCellH + 4
	vmaY := numY + 6 // box labels
	if old {
		vmaY = pteY + svgPTEH + 20
	}
	viewY := vmaY + 6
	viewBottom := viewY + svgCellH + 2
	band := max(84, 36+svgLanePitch*float64(lanes))
	storeY := viewBottom + band
	laneY := func(k int) float64 { return storeY - 18 - (band-36)*(float64(k)+0.5)/float64(max(lanes, 1)) }
	tableY := storeY + svgCellH + 44
	legendY := tableY + svgLineH*float64(len(table)+2) + 12
	height := legendY + svgLineH*float64(len(legend)) + 8

	width := max(viewRight, storeRight) + svgMargin
	width = max(width, svgMargin+svgTextWidth(svgTitle(st, info), svgCharSans*1.35)+svgMargin)
	width = max(width, svgMargin+svgTextWidth(svgSummary(st, info), svgCharSans)+svgMargin)
	width = max(width, svgMargin+svgTextWidth(svgFramesLine(st, info), svgCharSans)+svgMargin)
	width = max(width, svgMargin+svgTextWidth(tableHead, svgCharSans*1.1)+svgMargin)
	width = max(width, svgMargin+svgTextWidth(tableNote, svgCharSans*0.92)+svgMargin)
	for _, l := range table {
		width = max(width, svgMargin+svgTextWidth(l, svgCharMono)+svgMargin)
	}
	for _, l := range legend {
		width = max(width, svgMargin+34+svgTextWidth(l.text, svgCharSans)+svgMargin)
	}
	s.open(width, height, svgTitle(st, info))
	s.heading(st, info)
	s.defs()

	// Row labels.
	s.text(svgMargin, numY, `font-size="10" fill="#666"`, "view page")
	if old {
		s.text(svgMargin, beforeY+svgCellH/2, `font-weight="bold" font-size="13" fill="`+svgOld+`"`, "before 4.0")
		s.text(svgMargin, beforeY+svgCellH/2+15, `font-size="10" fill="#666"`, "one VMA")
		s.text(svgMargin, pteY+12, `font-size="10" fill="#666"`, "file PTE")
		s.text(svgMargin, viewY+svgCellH/2, `font-weight="bold" font-size="13"`, "since 4.0")
		s.text(svgMargin, viewY+svgCellH/2+15, `font-size="10" fill="#666"`, "VMA per run")
	} else {
		s.text(svgMargin, viewY+svgCellH/2, `font-weight="bold" font-size="13"`, "view")
		s.text(svgMargin, viewY+svgCellH/2+15, `font-size="10" fill="#666"`, "the mapping")
	}
	s.text(svgMargin, storeY+svgCellH/2, `font-weight="bold" font-size="13"`, "store")
	s.text(svgMargin, storeY+svgCellH/2+15, `font-size="10" fill="#666"`, "the file: data")
	s.text(svgMargin, storeY+svgCellH+16, `font-size="10" fill="#666"`, "store page")
	for v := range pages {
		s.text(viewX[v]+cell/2, numY, `text-anchor="middle" font-size="10" fill="#666"`, strconv.Itoa(v))
	}

	// Before 4.0: one unbroken box over the whole view, a cell per view page in the view's
	// columns, and under each its page-table entry.
	if old {
		s.b.WriteString("<g><title>")
		xml.EscapeText(&s.b, []byte(unglued("before Linux 4.0: "+costBefore(cost, false))))
		s.b.WriteString("</title>")
		s.rect(left, beforeY, viewRight-left, svgCellH, `rx="4" fill="`+svgOldBG+`" stroke="`+svgOld+`" stroke-width="1.5"`)
		for v := 1; v < len(pages); v++ {
			s.vline(viewX[v], beforeY+1, beforeY+svgCellH-1, "#cdbbe6")
		}
		s.b.WriteString("</g>\n")
		for v, f := range pages {
			tip := fmt.Sprintf("before 4.0, view page %d: in its linear place, its page-table entry held no offset: store page %d", v, f)
			if awayFromPlace(int64(v), f) {
				tip = fmt.Sprintf("before 4.0, view page %d: a file PTE, its page-table entry held file offset %d pages (%#x bytes): store page %d", v, f, f*info.pageSize(), f)
			}
			s.cellText(viewX[v]+cell/2, beforeY, info.letter(f, st), strconv.FormatInt(f, 10), tip, "")
			s.pteChip(viewX[v], pteY, cell, int64(v), f, info)
		}
	}

	// Arrows first, so that boxes are drawn over their ends: each rises from its store page to a
	// lane of its own, runs along it, and rises into its view page.
	for _, kind := range []struct {
		marker, colour, dash string
		want                 func(f int64) bool
	}{
		{"a", svgLink, "", func(f int64) bool { return !st.past(f) && len(views[f]) == 1 }},
		{"b", svgAlias, "", func(f int64) bool { return !st.past(f) && len(views[f]) > 1 }},
		{"c", svgPast, ` stroke-dasharray="5 4"`, st.past},
	} {
		started := false
		for _, a := range arrows {
			if !kind.want(a.f) {
				continue
			}
			if !started {
				s.printf(`<g stroke="%s" stroke-width="1.6" fill="none" marker-end="url(#%s)"%s>`+"\n", kind.colour, kind.marker, kind.dash)
				started = true
			}
			s.b.WriteString(`<path d="M`)
			s.num(a.sx)
			s.b.WriteByte(' ')
			s.num(storeY)
			if a.lane >= 0 {
				s.b.WriteString("V")
				s.num(laneY(a.lane))
				s.b.WriteString("H")
				s.num(a.ex)
			}
			s.b.WriteString("V")
			s.num(viewBottom)
			s.b.WriteString("\"/>\n")
		}
		if started {
			s.b.WriteString("</g>\n")
		}
	}

	// The view: one box per VMA (or run), its cells inside.
	for i, bx := range boxes {
		x0 := viewX[bx.View]
		w := cell * float64(bx.Count)
		tip := fmt.Sprintf("%s %d: view %s shows store %s", svgBoxWord(kernel), i+1, spanText(bx.View, bx.Count), spanText(bx.File, bx.Count))
		if bx.Line != "" {
			tip += "; vmas: " + bx.Line
		}
		s.b.WriteString("<g><title>")
		xml.EscapeText(&s.b, []byte(tip))
		s.b.WriteString("</title>")
		s.rect(x0+svgBoxInset, viewY, w-2*svgBoxInset, svgCellH, fmt.Sprintf(`rx="4" fill="%s" stroke="%s" stroke-width="1.5"`, svgViewFill, svgLink))
		for v := bx.View + 1; v < bx.View+bx.Count; v++ {
			s.vline(viewX[v], viewY+1, viewY+svgCellH-1, svgCellLine)
		}
		s.b.WriteString("</g>\n")
		label := fmt.Sprintf("%s %d", svgBoxWord(kernel), i+1)
		if svgTextWidth(label, 6.2) > w-8 {
			label = strconv.Itoa(i + 1)
		}
		s.text(x0+svgBoxInset+2, vmaY, `font-size="11" font-weight="bold" fill="`+svgLink+`"`, label)
	}
	for v, f := range pages {
		x0 := viewX[v]
		cx := x0 + cell/2
		tip := fmt.Sprintf("view page %d shows store page %d", v, f)
		if len(info.Frames) == len(pages) && info.Frames[v] != 0 {
			tip += ", physical frame " + info.frameName(info.Frames[v])
		}
		if st.past(f) {
			tip += ", past the end of data: reads as zeros"
			s.rect(x0+svgBoxInset+2, viewY+2, cell-2*svgBoxInset-4, svgCellH-4, `fill="`+svgPastBG+`" stroke="`+svgPast+`" stroke-dasharray="4 3"`)
		}
		if n := len(views[f]); n > 1 {
			tip += ", aliased: also at view " + mapPageList(views[f], int64(v), mapAliasItems)
			s.rect(x0+6, viewY+svgCellH-6, cell-12, 4, `fill="`+svgAlias+`"`)
		}
		s.cellText(cx, viewY, info.letter(f, st), strconv.FormatInt(f, 10), tip, "")
	}

	// The store: one box per stretch of consecutive store pages.
	for i := 0; i < len(cols); {
		if cols[i].mark != "" || st.past(cols[i].page) {
			i++
			continue
		}
		j := i
		for j < len(cols) && cols[j].mark == "" && !st.past(cols[j].page) {
			j++
		}
		s.rect(storeX[i], storeY, storeX[j-1]+cell-storeX[i], svgCellH, `rx="4" fill="`+svgDataFill+`" stroke="`+svgStoreLine+`" stroke-width="1.5"`)
		i = j
	}
	for i, c := range cols {
		x0 := storeX[i]
		switch c.mark {
		case "…":
			s.text(x0+svgMarkW/2, storeY+svgCellH/2+5, `text-anchor="middle" fill="#777"`, "…")
			continue
		case "|":
			s.printf(`<line x1="%g" x2="%g" y1="%g" y2="%g" stroke="%s" stroke-width="1.5" stroke-dasharray="4 3"/>`+"\n",
				x0+svgMarkW/2, x0+svgMarkW/2, storeY-14, storeY+svgCellH+4, svgPast)
			s.text(x0+svgMarkW/2, storeY-18, `text-anchor="middle" font-size="10" fill="#666"`, "end of data")
			continue
		}
		f := c.page
		cx := x0 + cell/2
		s.text(cx, storeY+svgCellH+16, `text-anchor="middle" font-size="10" fill="#666"`, strconv.FormatInt(f, 10))
		n := len(views[f])
		tip := fmt.Sprintf("store page %d", f)
		colour := ""
		switch {
		case st.past(f):
			stroke := svgPast
			if n > 1 {
				stroke = svgAlias
			}
			s.rect(x0+2, storeY+2, cell-4, svgCellH-4, `fill="`+svgPastBG+`" stroke="`+stroke+`" stroke-dasharray="4 3"`)
			tip += ", past the end of data: reads as zeros"
		case n == 0:
			s.rect(x0+1, storeY+1, cell-2, svgCellH-2, `fill="url(#h)"`)
			colour = svgUnshown
		case n > 1:
			s.rect(x0+1, storeY+1, cell-2, svgCellH-2, `fill="`+svgAliasBG+`" stroke="`+svgAlias+`" stroke-width="1.5"`)
			s.text(x0+cell-3, storeY+11, `text-anchor="end" font-size="9" font-weight="bold" fill="`+svgAlias+`"`, fmt.Sprintf("×%d", n))
		}
		if i > 0 && cols[i-1].mark == "" && !st.past(f) && !st.past(cols[i-1].page) {
			s.vline(x0, storeY+1, storeY+svgCellH-1, "#bbb")
		}
		switch {
		case n > 1:
			tip += fmt.Sprintf(", aliased: shown at %d view pages (%s)", n, mapPageList(views[f], -1, mapAliasItems))
		case n == 1:
			tip += fmt.Sprintf(", shown at view page %d", views[f][0])
		default:
			tip += ", not shown by any view page"
		}
		s.cellText(cx, storeY, info.letter(f, st), "", tip, colour)
	}

	// The table and the legend.
	s.text(svgMargin, tableY, `font-weight="bold"`, tableHead)
	s.text(svgMargin, tableY+svgLineH, `font-size="11" fill="#666"`, tableNote)
	for i, l := range table {
		s.text(svgMargin, tableY+svgLineH*float64(i+2), `font-family="DejaVu Sans Mono, monospace" font-size="11" xml:space="preserve"`, l)
	}
	s.legend(legendY, legend)
	s.close()
}

// svgPTEH is the height of a page-table entry's chip under the before-4.0 view.
const svgPTEH = 17.0

// svgPTELegend are the legend's lines for the before-4.0 VMA over view pages that show pages and
// the page-table entries under it: a line for the entries in place only when there is one.
func svgPTELegend(pages []int64) []svgLegendItem {
	items := []svgLegendItem{
		{"nonlinear", "before Linux 4.0: one VMA for the whole view, made nonlinear (VM_NONLINEAR)"},
		{"pte", "file PTE: before 4.0, the page-table entry of a page away from its linear place held its file offset (in store pages)"},
	}
	for v, f := range pages {
		if !awayFromPlace(int64(v), f) {
			return append(items, svgLegendItem{"nopte", "a page in its linear place (store page N at view page N): its PTE held no offset"})
		}
	}
	return items
}

// pteChip draws, in the cell of view page v (showing store page f) from x, its page-table entry
// before Linux 4.0: a file PTE with the file offset it held, for a page away from its linear
// place; a dashed, empty one for a page in place.
func (s *svgDoc) pteChip(x, y, cell float64, v, f int64, info Info) {
	s.b.WriteString("<g><title>")
	if awayFromPlace(v, f) {
		xml.EscapeText(&s.b, []byte(fmt.Sprintf("the page-table entry of view page %d before 4.0: a file PTE, holding file offset %d pages (%#x bytes)", v, f, f*info.pageSize())))
		s.b.WriteString("</title>")
		s.rect(x+4, y, cell-8, svgPTEH, `rx="3" fill="#fff" stroke="`+svgOld+`"`)
		s.text(x+cell/2, y+12.5, `text-anchor="middle" font-size="11" fill="`+svgOld+`"`, strconv.FormatInt(f, 10))
	} else {
		xml.EscapeText(&s.b, []byte(fmt.Sprintf("the page-table entry of view page %d before 4.0: the page is in its linear place, no offset held", v)))
		s.b.WriteString("</title>")
		s.rect(x+4, y, cell-8, svgPTEH, `rx="3" fill="#fff" stroke="#b9a6d6" stroke-dasharray="3 2"`)
		s.text(x+cell/2, y+12.5, `text-anchor="middle" font-size="11" fill="#b9a6d6"`, "–")
	}
	s.b.WriteString("</g>\n")
}

// defs writes the arrowheads (blue, orange, grey) and the hatching the pictures use.
func (s *svgDoc) defs() {
	s.printf(`<defs>`)
	for _, m := range []struct{ id, colour string }{{"a", svgLink}, {"b", svgAlias}, {"c", svgPast}} {
		s.printf(`<marker id="%s" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0 0L10 5L0 10z" fill="%s"/></marker>`, m.id, m.colour)
	}
	s.printf(`<pattern id="h" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" stroke="#d6d6d6" stroke-width="2"/></pattern>`)
	s.printf("</defs>\n")
}

// svgLegendItem is one line of a picture's legend: a swatch of one kind and what it means.
type svgLegendItem struct{ kind, text string }

// legend writes the legend from y down, one item a line, each with its swatch: every colour, band
// and mark a picture draws has a line here.
func (s *svgDoc) legend(y float64, items []svgLegendItem) {
	for i, l := range items {
		y := y + svgLineH*float64(i)
		switch l.kind {
		case "vma":
			s.rect(svgMargin, y-11, 24, 14, `rx="2" fill="`+svgViewFill+`" stroke="`+svgLink+`" stroke-width="1.5"`)
		case "nonlinear":
			s.rect(svgMargin, y-11, 24, 14, `rx="2" fill="`+svgOldBG+`" stroke="`+svgOld+`" stroke-width="1.5"`)
		case "pte":
			s.rect(svgMargin+4, y-11, 16, 14, `rx="2" fill="#fff" stroke="`+svgOld+`"`)
			s.text(svgMargin+12, y, `text-anchor="middle" font-size="10" fill="`+svgOld+`"`, "2")
		case "nopte":
			s.rect(svgMargin+4, y-11, 16, 14, `rx="2" fill="#fff" stroke="#b9a6d6" stroke-dasharray="3 2"`)
			s.text(svgMargin+12, y, `text-anchor="middle" font-size="10" fill="#b9a6d6"`, "–")
		case "note":
			s.text(svgMargin+12, y, `text-anchor="middle" font-weight="bold" fill="`+svgOld+`"`, "=")
		case "store":
			s.rect(svgMargin, y-11, 24, 14, `rx="2" fill="`+svgDataFill+`" stroke="`+svgStoreLine+`" stroke-width="1.5"`)
		case "arrow":
			s.printf(`<path d="M%g %gV%gH%gV%g" fill="none" stroke="%s" stroke-width="1.6" marker-end="url(#a)"/>`+"\n", svgMargin+2, y+2, y-3, svgMargin+20, y-12, svgLink)
		case "letter":
			s.text(svgMargin+12, y, `text-anchor="middle" font-weight="bold" font-size="14"`, "A")
		case "alias":
			s.rect(svgMargin, y-11, 24, 14, `rx="2" fill="`+svgAliasBG+`" stroke="`+svgAlias+`" stroke-width="1.5"`)
			s.rect(svgMargin+4, y-1, 16, 3, `fill="`+svgAlias+`"`)
		case "unshown":
			s.rect(svgMargin, y-11, 24, 14, `rx="2" fill="url(#h)" stroke="#bbb"`)
		case "gap":
			s.text(svgMargin+12, y, `text-anchor="middle" fill="#777"`, "…")
		case "past":
			s.rect(svgMargin, y-11, 24, 14, `rx="2" fill="`+svgPastBG+`" stroke="`+svgPast+`" stroke-dasharray="4 3"`)
		case "changed":
			s.rect(svgMargin, y-11, 24, 14, `rx="2" fill="`+svgChanged+`" stroke="`+svgLink+`"`)
		case "segment":
			s.printf(`<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="%s" stroke-width="2"/>`+"\n", svgMargin+2, y+1, svgMargin+22, y-9, svgLink)
		case "density":
			for i, c := range []string{"#96b6e4", "#4f77b4", "#082664"} {
				s.rect(svgMargin+8*float64(i), y-11, 8, 14, `fill="`+c+`"`)
			}
		case "pastband":
			s.rect(svgMargin, y-11, 24, 14, `fill="#ddd" fill-opacity="0.6" stroke="`+svgPast+`" stroke-dasharray="6 4"`)
		case "grid":
			s.printf(`<path d="M%g %gh24M%g %gv14" stroke="#c8c8c8" stroke-width="1.5"/>`+"\n", svgMargin, y-4, svgMargin+12, y-11)
		}
		s.text(svgMargin+34, y, "", l.text)
	}
}

// svgBoxWord is what a box of the small picture is: a VMA when the kernel said so, else a run.
func svgBoxWord(kernel bool) string {
	if kernel {
		return "VMA"
	}
	return "run"
}

// rect writes a <rect> with attrs.
func (s *svgDoc) rect(x, y, w, h float64, attrs string) {
	s.b.WriteString(`<rect x="`)
	s.num(x)
	s.b.WriteString(`" y="`)
	s.num(y)
	s.b.WriteString(`" width="`)
	s.num(w)
	s.b.WriteString(`" height="`)
	s.num(h)
	s.b.WriteString(`" ` + attrs + "/>\n")
}

// vline is a thin vertical line: the border between two cells of one box.
func (s *svgDoc) vline(x, y0, y1 float64, colour string) {
	s.b.WriteString(`<line x1="`)
	s.num(x)
	s.b.WriteString(`" x2="`)
	s.num(x)
	s.printf(`" y1="%g" y2="%g" stroke="%s"/>`+"\n", y0, y1, colour)
}

// cellText writes what a cell holds: its letter (big), or, when contents are unknown, fallback
// (small, grey); with a tooltip. The letter is "." for a byte that is not printable, drawn as "·".
func (s *svgDoc) cellText(cx, y float64, letter, fallback, tip, colour string) {
	s.b.WriteString("<g><title>")
	xml.EscapeText(&s.b, []byte(tip))
	s.b.WriteString("</title>")
	// An invisible rect gives the whole cell the tooltip, not just the glyph.
	s.rect(cx-15, y+2, 30, svgCellH-4, `fill="#fff" fill-opacity="0"`)
	fill := ""
	if colour != "" {
		fill = ` fill="` + colour + `"`
	}
	switch {
	case letter == ".":
		s.text(cx, y+svgCellH/2+6, `text-anchor="middle" font-size="16" fill="#999"`, "·")
	case letter != "":
		s.text(cx, y+svgCellH/2+6, `text-anchor="middle" font-size="17" font-weight="bold"`+fill, letter)
	case fallback != "":
		s.text(cx, y+svgCellH/2+5, `text-anchor="middle" font-size="13" fill="#555"`, fallback)
	}
	s.b.WriteString("</g>\n")
}
