// Command pngstat checks what scripts/check-svg.sh renders. `pngstat FILE.svg ...` checks that
// each SVG parses as XML with an <svg> root in the SVG namespace carrying a viewBox and a
// <title>, and names its kind of picture. `pngstat -of FILE.svg FILE.png` checks a screenshot
// of that SVG: it must decode, and enough of it must be drawn for its kind of picture — a
// browser that failed to draw leaves a blank page, or one with only its heading, and such a
// page has two colours as easily as a drawn one. It prints one line per file and exits 1 if
// any check fails. Standard library only, so the script needs nothing but Go (and builds
// whatever state the rest of the module is in).
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
	"os"
	"strconv"
	"strings"
)

// A pictureKind is one of the three pictures map.svg draws, with the least fraction of a
// 1000×800 screenshot (scripts/check-svg.sh's window) that a drawn one covers.
//
// The minimums are half the least that the golden pictures (layout/render/testdata) cover,
// measured in Chromium with scripts/check-svg.sh: small-view figures, step-by-step ones
// included, 2.91% (vmas-stale; the others 3.02% to 30.8%), large-view plots 3.39%
// (reverse-100000; 3.95% to 49.2%), the empty view 0.56%. A page that shows only the heading
// of a figure (0.61%, planted by scripts/check-svg.sh) is not a small figure, nor a large
// plot; a blank page, or one with a few faint pixels, is nothing. The planted pictures of
// scripts/check-svg.sh and main_test.go prove it. Re-measure when the renderer changes much.
type pictureKind struct {
	name     string
	minDrawn float64 // percent
}

var (
	emptyView   = pictureKind{"empty-view picture", 0.25}
	smallFigure = pictureKind{"small-view figure", 1.4}
	largePlot   = pictureKind{"large-view plot", 1.6}
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
	if *of != "" {
		_, title, err := checkSVG(*of)
		if err == nil {
			kind, err = kindOf(title)
		}
		if err != nil {
			fmt.Printf("%s: %v\n", *of, err)
			os.Exit(1)
		}
	}
	failed := false
	for _, path := range flag.Args() {
		var msg string
		var err error
		switch {
		case *of != "":
			msg, err = checkPNG(path, kind)
		case strings.HasSuffix(path, ".svg"):
			var title string
			if msg, title, err = checkSVG(path); err == nil {
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

// checkPNG decodes a screenshot and requires the drawn fraction its kind of picture covers.
func checkPNG(path string, kind pictureKind) (string, error) {
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
	drawn := drawnPercent(img)
	if drawn < kind.minDrawn {
		return "", fmt.Errorf("blank: %dx%d pixels, %.2f%% drawn; a drawn %s covers at least %.2f%%", b.Dx(), b.Dy(), drawn, kind.name, kind.minDrawn)
	}
	return fmt.Sprintf("%dx%d, %.2f%% drawn (%s: at least %.2f%%)", b.Dx(), b.Dy(), drawn, kind.name, kind.minDrawn), nil
}

// inkMargin is how far, in 8-bit steps of any channel, a pixel must be from the background to
// count as drawn: the lightest fills and grid lines of map.svg are 8 to 28 steps from white,
// while an off-white speck or a compression artefact is 1 or 2.
const inkMargin = 6

// drawnPercent is the percentage of img's pixels that are not the background (its most common
// colour) by more than inkMargin.
func drawnPercent(img image.Image) float64 {
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
	drawn := 0
	for c, n := range counts {
		for i := range c {
			if d := c[i] - bg[i]; d > inkMargin || d < -inkMargin {
				drawn += n
				break
			}
		}
	}
	return 100 * float64(drawn) / float64(b.Dx()*b.Dy())
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
// a summary and its title.
func checkSVG(path string) (string, string, error) {
	doc, err := os.ReadFile(path)
	if err != nil {
		return "", "", err
	}
	d := xml.NewDecoder(bytes.NewReader(doc))
	var root *xml.StartElement
	depth, inTitle, title := 0, false, ""
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", "", fmt.Errorf("not well-formed XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				root = &tok
			}
			inTitle = depth == 1 && tok.Name.Local == "title"
			depth++
		case xml.EndElement:
			depth--
			inTitle = false
		case xml.CharData:
			if inTitle {
				title += string(tok)
			}
		}
	}
	if root == nil || root.Name.Local != "svg" || root.Name.Space != "http://www.w3.org/2000/svg" {
		return "", "", errors.New("root element is not <svg> in the SVG namespace")
	}
	viewBox := ""
	for _, a := range root.Attr {
		if a.Name.Local == "viewBox" {
			viewBox = a.Value
		}
	}
	if len(strings.Fields(viewBox)) != 4 {
		return "", "", errors.New("root <svg> has no viewBox")
	}
	title = strings.TrimSpace(title)
	if title == "" {
		return "", "", errors.New("no <title>")
	}
	return fmt.Sprintf("%d bytes, viewBox %q, title %q", len(doc), viewBox, title), title, nil
}
