package render

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"math/bits"
	"strconv"
	"strings"

	"github.com/nlfs/nlfs/run"
)

// Limits of the picture. A browser must draw map.svg at once and the file must stay well under a
// mebibyte whatever the view, so large views are drawn from their runs (one segment per run) and,
// past svgMaxSegments runs, as a density image of fixed resolution whose size cannot grow with the
// view: at most svgGrid*svgGrid bytes before compression, ~550 KB in base64 in the worst case.
const (
	svgMaxSegments = 20000 // more runs than this are binned into a density image
	svgGrid        = 640   // the density image's resolution, and the plot's size in pixels
	svgFont        = "DejaVu Sans, Helvetica, Arial, sans-serif"
)

// Colours: blue for ordinary links, orange for aliased store pages (several view pages show one
// page), grey and dashed for pages past the end of data (they read as zeros).
const (
	svgInk      = "#222"
	svgLink     = "#3b6bb5"
	svgViewFill = "#e6eef9"
	svgDataFill = "#f2f2f2"
	svgAlias    = "#d9741c"
	svgAliasBG  = "#fde4cc"
	svgPast     = "#999"
	svgPastBG   = "#f7f7f7"
	svgGridLine = "#e3e3e3"
)

// SVG draws the mapping as an SVG picture (the `map.svg` file).
//
// Views up to 64 pages are drawn as TLPI Figure 49-5: the view pages in a row, one box per VMA (or
// run), the store pages below, an arrow from each store page to each view page showing it, page
// contents in the boxes when known, and the VMAs' lines of `vmas` under it; above the view, the
// same view as it was before Linux 4.0 (one VMA, and the file offset each page-table entry held).
// Larger views are a permutation plot, view page across and store page up, one diagonal segment per
// run, or a density image once the runs are too many to draw one by one, with the cost before 4.0
// and since in words. A legend under each picture names every colour and mark it draws. The output
// is deterministic and bounded.
func SVG(w io.Writer, runs []run.Run, info Info) error {
	runs = mapRuns(runs)
	st := newMapStats(runs, info)
	s := &svgDoc{}
	switch {
	case st.viewPages == 0:
		s.empty(&st, info)
	case st.viewPages <= SmallView:
		s.small(runs, &st, info)
	default:
		s.large(runs, &st, info)
	}
	_, err := w.Write(s.b.Bytes())
	return err
}

// svgDoc accumulates the document; numbers are appended directly, since a large plot has tens of
// thousands of them.
type svgDoc struct{ b bytes.Buffer }

func (s *svgDoc) printf(format string, args ...any) { fmt.Fprintf(&s.b, format, args...) }

// num appends x rounded to a tenth of a pixel, which is finer than any screen and keeps plots small.
func (s *svgDoc) num(x float64) {
	x = math.Round(x*10) / 10
	if x == 0 {
		x = 0 // no "-0"
	}
	s.b.Write(strconv.AppendFloat(s.b.AvailableBuffer(), x, 'f', -1, 64))
}

// text writes a <text> element; attrs is inserted as is, the content is escaped.
func (s *svgDoc) text(x, y float64, attrs, content string) {
	s.b.WriteString(`<text x="`)
	s.num(x)
	s.b.WriteString(`" y="`)
	s.num(y)
	s.b.WriteString(`"`)
	if attrs != "" {
		s.b.WriteString(" " + attrs)
	}
	s.b.WriteString(">")
	xml.EscapeText(&s.b, []byte(content))
	s.b.WriteString("</text>\n")
}

// open starts the document: a root with a fixed pixel size (so a browser shows it crisp, zoomable and
// scrollable rather than squeezed into the window) and the same viewBox, a <title>, a white ground.
func (s *svgDoc) open(width, height float64, title string) {
	s.b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	s.b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="`)
	s.num(width)
	s.b.WriteString(`" height="`)
	s.num(height)
	s.b.WriteString(`" viewBox="0 0 `)
	s.num(width)
	s.b.WriteString(" ")
	s.num(height)
	s.printf(`" font-family="%s" font-size="12" fill="%s">`+"\n", svgFont, svgInk)
	s.b.WriteString("<title>")
	xml.EscapeText(&s.b, []byte(title))
	s.b.WriteString("</title>\n")
	s.b.WriteString(`<rect width="100%" height="100%" fill="#fff"/>` + "\n")
}

func (s *svgDoc) close() { s.b.WriteString("</svg>\n") }

// svgTitle is the picture's title, for the <title> and the heading alike.
func svgTitle(st *mapStats, info Info) string {
	if st.viewPages == 0 {
		return "nlfs map: empty view"
	}
	t := fmt.Sprintf("nlfs map: %s in %s", Plural(st.viewPages, "view page"), Plural(int64(st.runs), "run"))
	if info.VMAs >= 0 {
		t += ", " + Plural(info.VMAs, "VMA")
	}
	return t
}

// svgSummary is the line under the heading: the totals of the text map, in words.
func svgSummary(st *mapStats, info Info) string {
	var parts []string
	for _, t := range mapTotals(st, info) {
		if t.words != "" {
			parts = append(parts, t.words+": "+t.value)
		}
	}
	return strings.Join(parts, " · ")
}

// svgFramesLine says what the physical frames show, or why they are unknown; "" if not asked.
func svgFramesLine(st *mapStats, info Info) string {
	switch {
	case info.Frames == nil && info.FramesNote != "":
		return "physical frames: unknown (" + info.FramesNote + ")"
	case info.Frames == nil:
		return ""
	case int64(len(info.Frames)) != st.viewPages:
		return fmt.Sprintf("physical frames: unknown (%d frames given for %d view pages)", len(info.Frames), st.viewPages)
	}
	fs := mapFrameSharing(info.Frames)
	return fmt.Sprintf("physical frames: %d, %d of them shared by several view pages; %d view pages not in memory",
		fs.distinct, fs.shared, fs.absent)
}

// heading writes the title and the summary lines, in a group of their own (id "heading": a check
// of a screenshot, scripts/pngstat, measures what is drawn below it); svgHeadingHeight is where
// they end.
func (s *svgDoc) heading(st *mapStats, info Info) {
	s.b.WriteString(`<g id="heading">` + "\n")
	s.text(16, 26, `font-size="16" font-weight="bold"`, svgTitle(st, info))
	s.text(16, 46, "", svgSummary(st, info))
	if f := svgFramesLine(st, info); f != "" {
		s.text(16, 64, "", f)
	}
	s.b.WriteString("</g>\n")
}

func svgHeadingHeight(st *mapStats, info Info) float64 {
	if info.Frames != nil || info.FramesNote != "" {
		return 64
	}
	return 46
}

func (s *svgDoc) empty(st *mapStats, info Info) {
	y := svgHeadingHeight(st, info)
	s.open(640, y+70, svgTitle(st, info))
	s.heading(st, info)
	s.text(16, y+40, `font-size="14"`, "empty view (0 pages)")
	s.close()
}

// large draws the permutation plot: view page across, store page up.
func (s *svgDoc) large(runs []run.Run, st *mapStats, info Info) {
	viewN := st.viewPages
	// The store axis spans the pages shown, and the whole store when that is not much more, so that
	// unused data shows as empty space rather than squeezing the plot into a corner.
	dataN := st.fileEnd
	if st.dataKnown && st.dataPages > dataN && st.dataPages/4 <= dataN {
		dataN = st.dataPages
	}
	xt, yt := svgTicks(viewN), svgTicks(dataN)
	labelW := 0
	for _, t := range yt {
		labelW = max(labelW, len(strconv.FormatInt(t, 10)))
	}
	const plot = float64(svgGrid)
	left := float64(48 + 7*labelW)
	width := max(left+plot+40, 760)
	top := svgHeadingHeight(st, info) + 24

	// Under the plot: what the view costs the kernel before Linux 4.0 and since, then the legend.
	before := costBefore(st.cost, false)
	if st.cost.Nonlinear() {
		before += pteColumnIntro + " " + pteColumn(runs)
	}
	cost := wrapWords("before Linux 4.0: "+before, 120)
	for i := 1; i < len(cost); i++ {
		cost[i] = "    " + cost[i]
	}
	cost = append(cost, "since Linux 4.0: "+costSince(st.cost, false, info.Backend))
	var legend []svgLegendItem
	if len(runs) <= svgMaxSegments {
		legend = append(legend, svgLegendItem{"segment", "one diagonal segment per run: store pages ascending by one at consecutive view pages (one VMA since Linux 4.0)"})
	} else {
		legend = append(legend, svgLegendItem{"density", fmt.Sprintf("%d runs binned on a %d×%d grid: the darker a cell, the more view pages fall in it", len(runs), svgGrid, svgGrid)})
	}
	pastBand := st.dataKnown && st.dataPages < dataN
	if pastBand {
		legend = append(legend, svgLegendItem{"pastband", "store pages past the end of data (above the dashed line): they read as zeros"})
	}
	legend = append(legend, svgLegendItem{"grid", "grid lines at the ticks of each axis"})
	costY := top + plot + 66
	legendY := costY + svgLineH*float64(len(cost)) + 12
	height := legendY + svgLineH*float64(len(legend)) + 8
	for _, l := range cost {
		width = max(width, 16+svgTextWidth(l, svgCharSans)+16)
	}
	for _, l := range legend {
		width = max(width, svgMargin+34+svgTextWidth(l.text, svgCharSans)+svgMargin)
	}
	s.open(width, height, svgTitle(st, info))
	s.heading(st, info)
	px := func(v int64) float64 { return left + plot*float64(v)/float64(viewN) }
	py := func(f int64) float64 { return top + plot - plot*float64(f)/float64(dataN) }

	// Grid and ticks.
	s.printf(`<g stroke="%s" stroke-width="1">`+"\n", svgGridLine)
	for _, t := range xt {
		s.b.WriteString(`<line x1="`)
		s.num(px(t))
		s.b.WriteString(`" x2="`)
		s.num(px(t))
		s.printf(`" y1="%g" y2="%g"/>`+"\n", top, top+plot)
	}
	for _, t := range yt {
		s.b.WriteString(`<line y1="`)
		s.num(py(t))
		s.b.WriteString(`" y2="`)
		s.num(py(t))
		s.printf(`" x1="%g" x2="%g"/>`+"\n", left, left+plot)
	}
	s.b.WriteString("</g>\n")
	for _, t := range xt {
		s.text(px(t), top+plot+18, `text-anchor="middle" font-size="11"`, strconv.FormatInt(t, 10))
	}
	for _, t := range yt {
		s.text(left-8, py(t)+4, `text-anchor="end" font-size="11"`, strconv.FormatInt(t, 10))
	}

	// Past the end of data: a grey band, drawn under the runs so they stay visible in it.
	if pastBand {
		y := py(max(st.dataPages, 0))
		s.printf(`<rect x="%g" y="%g" width="%g" height="`, left, top, plot)
		s.num(y - top)
		s.printf(`" fill="#ddd" fill-opacity="0.6"/>` + "\n")
		s.printf(`<line x1="%g" x2="%g" y1="`, left, left+plot)
		s.num(y)
		s.b.WriteString(`" y2="`)
		s.num(y)
		s.printf(`" stroke="%s" stroke-dasharray="6 4"/>`+"\n", svgPast)
		s.text(left+plot-6, top+14, `text-anchor="end" fill="#555"`, "past the end of data (reads as zeros)")
	}

	if len(runs) <= svgMaxSegments {
		s.segments(runs, px, py)
	} else {
		s.density(runs, viewN, dataN, left, top, plot)
	}

	// Frame and axis titles on top of everything.
	s.printf(`<rect x="%g" y="%g" width="%g" height="%g" fill="none" stroke="%s"/>`+"\n", left, top, plot, plot, svgInk)
	s.text(left+plot/2, top+plot+40, `text-anchor="middle" font-weight="bold"`, "view page →")
	s.printf(`<text transform="translate(18 %g) rotate(-90)" text-anchor="middle" font-weight="bold">store page →</text>`+"\n", top+plot/2)
	for i, l := range cost {
		colour := svgOld
		if i == len(cost)-1 {
			colour = svgLink
		}
		s.text(16, costY+svgLineH*float64(i), `fill="`+colour+`" xml:space="preserve"`, l)
	}
	s.legend(legendY, legend)
	s.close()
}

// segments draws each run as one diagonal segment, all in one path: a square line cap keeps a
// single-page run visible as a dot however small its page is on screen.
func (s *svgDoc) segments(runs []run.Run, px, py func(int64) float64) {
	s.printf(`<path fill="none" stroke="%s" stroke-width="1.5" stroke-linecap="square" d="`, svgLink)
	var view int64
	for _, r := range runs {
		x0, y0 := px(view), py(r.File)
		view += r.Count
		s.b.WriteByte('M')
		s.num(x0)
		s.b.WriteByte(' ')
		s.num(y0)
		s.b.WriteByte('l')
		s.num(px(view) - x0)
		s.b.WriteByte(' ')
		s.num(py(r.File+r.Count) - y0)
	}
	s.b.WriteString("\"/>\n")
}

// svgMulDiv is a*b/c without overflow; a < c or b < c must hold (it does for every call: page or cell
// index times a size, over the other size).
func svgMulDiv(a, b, c uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	q, _ := bits.Div64(hi, lo, c)
	return q
}

// density bins the runs into an image of at most svgGrid×svgGrid cells, each weighted by the view
// pages that fall in it, and embeds it as a PNG. Each run is walked cell by cell (never page by
// page), so the cost is the runs plus the cells they cross.
func (s *svgDoc) density(runs []run.Run, viewN, dataN int64, left, top, plot float64) {
	gx, gy := int64(min(svgGrid, viewN)), int64(min(svgGrid, dataN))
	weight := make([]int64, gx*gy)
	col := func(p int64) int64 { return int64(svgMulDiv(uint64(p), uint64(gx), uint64(viewN))) }
	row := func(p int64) int64 { return int64(svgMulDiv(uint64(p), uint64(gy), uint64(dataN))) }
	var view int64
	for _, r := range runs {
		for t := int64(0); t < r.Count; {
			v, f := view+t, r.File+t
			cx, cy := col(v), row(f)
			// Pages stay in column cx up to the first page whose column is cx+1; likewise rows.
			nx := svgFirstPage(cx+1, viewN, gx)
			ny := svgFirstPage(cy+1, dataN, gy)
			step := min(r.Count-t, nx-v, ny-f)
			weight[cy*gx+cx] += step
			t += step
		}
		view += r.Count
	}
	var top1 int64
	for _, w := range weight {
		top1 = max(top1, w)
	}
	img := image.NewPaletted(image.Rect(0, 0, int(gx), int(gy)), svgPalette())
	scale := 254 / math.Log1p(float64(top1))
	for cy := range gy {
		for cx := range gx {
			if w := weight[cy*gx+cx]; w > 0 {
				img.Pix[(gy-1-cy)*gx+cx] = uint8(1 + math.Round(math.Log1p(float64(w))*scale))
			}
		}
	}
	var p bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.DefaultCompression}
	if err := enc.Encode(&p, img); err != nil {
		return // cannot happen for an in-memory paletted image; the plot stays empty rather than broken
	}
	s.printf(`<image x="%g" y="%g" width="%g" height="%g" preserveAspectRatio="none" image-rendering="optimizeSpeed" style="image-rendering:pixelated" xlink:href="data:image/png;base64,`, left, top, plot, plot)
	enc64 := base64.NewEncoder(base64.StdEncoding, &s.b)
	enc64.Write(p.Bytes())
	enc64.Close()
	s.b.WriteString("\"/>\n")
}

// svgFirstPage is the first page of cell k when n pages are binned into g cells (page p is in cell
// p*g/n): ceil(k*n/g). For k == g it is n.
func svgFirstPage(k, n, g int64) int64 {
	hi, lo := bits.Mul64(uint64(k), uint64(n))
	q, r := bits.Div64(hi, lo, uint64(g))
	if r != 0 {
		q++
	}
	return int64(q)
}

// svgPalette runs from transparent (no page) through a light blue (one page in a big cell: still
// visible) to a dark blue (the fullest cell).
func svgPalette() color.Palette {
	p := color.Palette{color.NRGBA{}}
	from, to := [3]float64{150, 182, 228}, [3]float64{8, 38, 100}
	for i := range 255 {
		t := float64(i) / 254
		p = append(p, color.NRGBA{
			R: uint8(from[0] + (to[0]-from[0])*t),
			G: uint8(from[1] + (to[1]-from[1])*t),
			B: uint8(from[2] + (to[2]-from[2])*t),
			A: 255,
		})
	}
	return p
}

// svgTicks chooses about five round tick values (1, 2 or 5 times a power of ten apart) from 0 to n.
func svgTicks(n int64) []int64 {
	step := int64(1)
	for n/step > 6 {
		switch {
		case n/(step*2) <= 6:
			step *= 2
		case n/(step*5) <= 6:
			step *= 5
		default:
			step *= 10
		}
	}
	var t []int64
	for v := int64(0); v <= n; v += step {
		t = append(t, v)
		if v > n-step {
			break
		}
	}
	return t
}
