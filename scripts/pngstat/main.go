// Command pngstat checks what scripts/check-svg.sh renders. `pngstat FILE.svg ...` checks that
// each SVG parses as XML with an <svg> root in the SVG namespace carrying a size, a viewBox, a
// <title> and a heading (the group with id "heading" that map.svg and the step drawings start
// with), and names its kind of picture. `pngstat -of FILE.svg FILE.png ...` checks a screenshot
// of that SVG: it must decode, and its figure — the part of the picture below the heading, which
// the SVG says where it is — must be drawn as that kind of picture is. A browser that failed to
// draw leaves a blank page, or one with only its heading; such a page has two colours as easily
// as a drawn one, and a heading can cover as much of a whole page as a sparse figure, but below
// the heading it has nothing at all. It prints one line per file and exits 1 if any check fails.
// Standard library only, so the script needs nothing but Go (and builds whatever state the rest
// of the module is in).
package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/png"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// A pictureKind is one of the pictures the renderers draw, with what a drawn one covers of its
// figure region (below the heading, within the picture and the screenshot): the least share of
// the region's rows that hold any ink, and the least share of its pixels that are ink.
//
// The minimums are about half the least that the golden pictures (layout/render/testdata) and
// the documentation's (docs/*.svg) cover, measured in Chromium with scripts/check-svg.sh:
// small-view figures, step by step ones included, 60.9% of rows and 8.71% of pixels (the least
// of each: steps-reverse-back, vmas-stale), large-view plots 88.9% and 3.62% (blocks-2000,
// reverse-100000), the empty view 21.9% and 1.79%. A figure's rows are nearly all inked: boxes, arrows and lines of
// text follow each other down the picture. A page that shows only the heading has no ink in the
// region at all, however large its heading; the planted pictures of scripts/check-svg.sh and
// main_test.go prove it. Re-measure when the renderer changes much.
type pictureKind struct {
	name     string
	minRows  float64 // percent of the region's rows with ink
	minDrawn float64 // percent of the region's pixels that are ink
}

var (
	emptyView   = pictureKind{"empty-view picture", 10, 0.8}
	smallFigure = pictureKind{"small-view figure", 30, 4}
	largePlot   = pictureKind{"large-view plot", 44, 1.8}
)

// smallView is render.SmallView (main_test.go checks it): map.svg draws views of up to this
// many pages as figures, larger ones as plots.
const smallView = 64

// kindOf tells the kind of picture from the SVG's title, which map.svg writes as "nlfs map:
// empty view" or "nlfs map: N view pages, R runs".
func kindOf(title string) (pictureKind, error) {
	rest, ok := strings.CutPrefix(title, "nlfs map: ")
	if !ok {
		return pictureKind{}, fmt.Errorf("title %q is not a map's (nlfs map: …)", title)
	}
	if rest == "empty view" {
		return emptyView, nil
	}
	n, _, ok := strings.Cut(rest, " view pages")
	pages, err := strconv.ParseInt(n, 10, 64)
	if !ok || err != nil || pages <= 0 {
		return pictureKind{}, fmt.Errorf("title %q does not say how many view pages the map has", title)
	}
	if pages <= smallView {
		return smallFigure, nil
	}
	return largePlot, nil
}

// geometry is where an SVG draws its figure: its size, and where its heading ends.
type geometry struct {
	width, height float64
	headingEnd    float64 // the lowest baseline of the heading's text, plus its descent
}

func main() {
	of := flag.String("of", "", "check PNG screenshots of this SVG, by the kind of picture its title names")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: pngstat FILE.svg ...\n       pngstat -of FILE.svg FILE.png ...")
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	var kind pictureKind
	var geo geometry
	if *of != "" {
		_, title, g, err := checkSVG(*of)
		if err == nil {
			kind, err = kindOf(title)
		}
		if err != nil {
			fmt.Printf("%s: %v\n", *of, err)
			os.Exit(1)
		}
		geo = g
	}
	failed := false
	for _, path := range flag.Args() {
		var msg string
		var err error
		switch {
		case *of != "":
			msg, err = checkPNG(path, kind, geo)
		case strings.HasSuffix(path, ".svg"):
			var title string
			if msg, title, _, err = checkSVG(path); err == nil {
				var k pictureKind
				if k, err = kindOf(title); err == nil {
					msg += ", " + k.name
				}
			}
		default:
			err = errors.New("a screenshot is checked with -of FILE.svg: its kind of picture says how much must be drawn")
		}
		if err != nil {
			fmt.Printf("%s: %v\n", path, err)
			failed = true
			continue
		}
		fmt.Printf("%s: %s\n", path, msg)
	}
	if failed {
		os.Exit(1)
	}
}

// checkPNG decodes a screenshot and requires of its figure region what its kind of picture
// covers.
func checkPNG(path string, kind pictureKind, geo geometry) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return "", fmt.Errorf("not a readable PNG: %v", err)
	}
	b := img.Bounds()
	if b.Empty() {
		return "", errors.New("empty PNG")
	}
	region := image.Rect(b.Min.X, b.Min.Y+int(math.Ceil(geo.headingEnd)),
		b.Min.X+min(b.Dx(), int(geo.width)), b.Min.Y+min(b.Dy(), int(geo.height)))
	if region.Empty() {
		return "", fmt.Errorf("blank: %dx%d pixels hold no figure below the heading (it ends at %g)", b.Dx(), b.Dy(), geo.headingEnd)
	}
	rows, drawn := inked(img, region)
	what := fmt.Sprintf("%dx%d, figure %dx%d below the heading: %.1f%% of its rows and %.2f%% of its pixels drawn (%s: at least %.0f%% and %.2f%%)",
		b.Dx(), b.Dy(), region.Dx(), region.Dy(), rows, drawn, kind.name, kind.minRows, kind.minDrawn)
	if rows < kind.minRows || drawn < kind.minDrawn {
		return "", errors.New("blank: " + what)
	}
	return what, nil
}

// inkMargin is how far, in 8-bit steps of any channel, a pixel must be from the background to
// count as drawn: the lightest fills and grid lines of map.svg are 8 to 28 steps from white,
// while an off-white speck or a compression artefact is 1 or 2.
const inkMargin = 6

// inked returns the percentage of region's rows that hold a pixel of ink, and of its pixels
// that are ink: pixels that differ from the background (img's most common colour) by more than
// inkMargin.
func inked(img image.Image, region image.Rectangle) (rows, drawn float64) {
	b := img.Bounds()
	rgb := func(x, y int) [3]int {
		r, g, bl, _ := img.At(x, y).RGBA()
		return [3]int{int(r >> 8), int(g >> 8), int(bl >> 8)}
	}
	counts := map[[3]int]int{}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			counts[rgb(x, y)]++
		}
	}
	var bg [3]int
	most := 0
	for c, n := range counts {
		if n > most || (n == most && less(c, bg)) { // ties broken the same way every time
			bg, most = c, n
		}
	}
	ink := func(c [3]int) bool {
		for i := range c {
			if d := c[i] - bg[i]; d > inkMargin || d < -inkMargin {
				return true
			}
		}
		return false
	}
	inkedRows, inkedPixels := 0, 0
	for y := region.Min.Y; y < region.Max.Y; y++ {
		row := 0
		for x := region.Min.X; x < region.Max.X; x++ {
			if ink(rgb(x, y)) {
				row++
			}
		}
		inkedPixels += row
		if row > 0 {
			inkedRows++
		}
	}
	return 100 * float64(inkedRows) / float64(region.Dy()), 100 * float64(inkedPixels) / float64(region.Dx()*region.Dy())
}

func less(a, b [3]int) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// checkSVG parses the whole document, as a browser would before drawing anything, and returns
// a summary, its title and where it draws its figure.
func checkSVG(path string) (string, string, geometry, error) {
	var geo geometry
	doc, err := os.ReadFile(path)
	if err != nil {
		return "", "", geo, err
	}
	d := xml.NewDecoder(bytes.NewReader(doc))
	var root *xml.StartElement
	depth, inTitle, title := 0, false, ""
	heading, headingDepth := false, 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", "", geo, fmt.Errorf("not well-formed XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				root = &tok
			}
			inTitle = depth == 1 && tok.Name.Local == "title"
			if tok.Name.Local == "g" && attr(tok, "id") == "heading" {
				heading, headingDepth = true, depth
			}
			if heading && tok.Name.Local == "text" {
				y, err := strconv.ParseFloat(attr(tok, "y"), 64)
				if err != nil {
					return "", "", geo, fmt.Errorf("heading text at y %q", attr(tok, "y"))
				}
				size := 12.0
				if s, err := strconv.ParseFloat(attr(tok, "font-size"), 64); err == nil {
					size = s
				}
				geo.headingEnd = max(geo.headingEnd, y+size/2) // the baseline, and the descent
			}
			depth++
		case xml.EndElement:
			depth--
			inTitle = false
			if heading && depth == headingDepth {
				heading = false
			}
		case xml.CharData:
			if inTitle {
				title += string(tok)
			}
		}
	}
	if root == nil || root.Name.Local != "svg" || root.Name.Space != "http://www.w3.org/2000/svg" {
		return "", "", geo, errors.New("root element is not <svg> in the SVG namespace")
	}
	viewBox := attr(*root, "viewBox")
	if len(strings.Fields(viewBox)) != 4 {
		return "", "", geo, errors.New("root <svg> has no viewBox")
	}
	w, err1 := strconv.ParseFloat(attr(*root, "width"), 64)
	h, err2 := strconv.ParseFloat(attr(*root, "height"), 64)
	if err1 != nil || err2 != nil || w <= 0 || h <= 0 {
		return "", "", geo, errors.New("root <svg> has no width and height in pixels")
	}
	geo.width, geo.height = w, h
	title = strings.TrimSpace(title)
	if title == "" {
		return "", "", geo, errors.New("no <title>")
	}
	if geo.headingEnd == 0 {
		return "", "", geo, errors.New(`no heading (<g id="heading"> with its text): nothing says where the figure starts`)
	}
	return fmt.Sprintf("%d bytes, viewBox %q, title %q, heading ends at %g", len(doc), viewBox, title, geo.headingEnd), title, geo, nil
}

// attr is the value of an element's attribute, "" when it has none.
func attr(e xml.StartElement, name string) string {
	for _, a := range e.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}
