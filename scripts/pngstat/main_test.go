package main

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nlfs/nlfs/layout/render"
)

// shotGeometry is the SVG the synthetic screenshots stand for: a 700×600 picture whose heading
// ends at y 60, in scripts/check-svg.sh's 1000×800 window.
var shotGeometry = geometry{width: 700, height: 600, headingEnd: 60}

// screenshot writes a 1000×800 PNG of background bg on which draw has set pixels, and returns
// its path.
func screenshot(t *testing.T, bg color.Color, draw func(img *image.RGBA)) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 1000, 800))
	for y := range 800 {
		for x := range 1000 {
			img.Set(x, y, bg)
		}
	}
	draw(img)
	path := filepath.Join(t.TempDir(), "shot.png")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	return path
}

// fill sets the rectangle [x0,x1)×[y0,y1) to c.
func fill(x0, y0, x1, y1 int, c color.Color) func(*image.RGBA) {
	return func(img *image.RGBA) {
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				img.Set(x, y, c)
			}
		}
	}
}

// stripes inks every k-th row of the figure region, w pixels of each.
func stripes(k, w int, c color.Color) func(*image.RGBA) {
	return func(img *image.RGBA) {
		for y := 60; y < 600; y += k {
			fill(0, y, w, y+1, c)(img)
		}
	}
}

func both(a, b func(*image.RGBA)) func(*image.RGBA) {
	return func(img *image.RGBA) { a(img); b(img) }
}

// TestCheckPNG: what a screenshot needs is measured below the picture's heading, within the
// picture, by its kind; what counts as drawn is ink, not any second colour. The blank page, the
// off-white speck and the heading alone are the planted faults: the heading alone, however much
// of the page it covers (1.18% of one once passed a threshold of 1.40% meant to refuse it), has
// nothing below it.
func TestCheckPNG(t *testing.T) {
	white, offWhite := color.RGBA{255, 255, 255, 255}, color.RGBA{254, 254, 254, 255}
	ink, grid := color.RGBA{0x22, 0x22, 0x22, 255}, color.RGBA{0xe3, 0xe3, 0xe3, 255}
	heading := fill(16, 10, 680, 58, ink)                      // a heading far larger than any real one
	empty := geometry{width: 640, height: 116, headingEnd: 52} // the empty view's map.svg
	for _, tc := range []struct {
		name   string
		bg     color.Color
		draw   func(*image.RGBA)
		kind   pictureKind
		passes bool
		geo    *geometry // shotGeometry when nil
	}{
		{"blank", white, func(*image.RGBA) {}, emptyView, false, nil},
		{"one off-white pixel", white, fill(300, 200, 301, 201, offWhite), smallFigure, false, nil},
		{"the figure off-white", white, fill(0, 60, 700, 600, offWhite), smallFigure, false, nil},
		{"one dark pixel", white, fill(300, 200, 301, 201, ink), emptyView, false, nil},
		{"a heading alone, as a small figure", white, heading, smallFigure, false, nil},
		{"a heading alone, as a large plot", white, heading, largePlot, false, nil},
		{"a heading alone, as the empty view", white, heading, emptyView, false, nil},
		{"a figure drawn outside the picture only", white, both(heading, fill(720, 60, 1000, 800, ink)), smallFigure, false, nil},
		{"a figure's first lines only", white, both(heading, fill(16, 60, 700, 100, ink)), smallFigure, false, nil},
		{"a sparse figure: every other row, a fifth wide", white, both(heading, stripes(2, 140, ink)), smallFigure, true, nil},
		{"every fourth row, a fifth wide: too sparse for a figure", white, both(heading, stripes(4, 140, ink)), smallFigure, false, nil},
		{"every other row, a tenth wide: a plot", white, both(heading, stripes(2, 70, ink)), largePlot, true, nil},
		{"the empty view's line", white, both(heading, fill(16, 80, 200, 95, ink)), emptyView, true, &empty},
		{"the empty view's heading alone", white, fill(16, 10, 600, 50, ink), emptyView, false, &empty},
		{"light grid lines count as drawn", white, both(heading, stripes(2, 700, grid)), largePlot, true, nil},
		{"on a dark background", color.RGBA{0, 0, 0, 255}, stripes(2, 300, white), smallFigure, true, nil},
		{"more of the figure drawn than not", white, fill(0, 60, 700, 600, ink), largePlot, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			geo := shotGeometry
			if tc.geo != nil {
				geo = *tc.geo
			}
			msg, err := checkPNG(screenshot(t, tc.bg, tc.draw), tc.kind, geo)
			switch {
			case tc.passes && err != nil:
				t.Errorf("rejected: %v", err)
			case !tc.passes && err == nil:
				t.Errorf("accepted: %s", msg)
			case !tc.passes && !strings.HasPrefix(err.Error(), "blank: "):
				t.Errorf("rejected for another reason: %v", err)
			}
		})
	}
}

// TestCheckSVG: the figure starts where the heading's text ends, and an SVG that does not say
// where its heading is, or how big it is, is refused: a screenshot of it could not be judged.
func TestCheckSVG(t *testing.T) {
	const head = `<?xml version="1.0"?>` + "\n" + `<svg xmlns="http://www.w3.org/2000/svg" width="300" height="200" viewBox="0 0 300 200"><title>nlfs map: empty view</title>`
	for _, tc := range []struct {
		name, doc string
		end       float64
	}{
		{"heading", head + `<g id="heading"><text x="16" y="26" font-size="16">t</text><text x="16" y="46">s</text></g></svg>`, 52},
		{"no heading", head + `<text x="16" y="26">t</text></svg>`, -1},
		{"no size", `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 3 2"><title>nlfs map: empty view</title><g id="heading"><text y="9">t</text></g></svg>`, -1},
		{"not XML", head + `<g id="heading">`, -1},
	} {
		path := filepath.Join(t.TempDir(), "x.svg")
		if err := os.WriteFile(path, []byte(tc.doc), 0o644); err != nil {
			t.Fatal(err)
		}
		_, _, geo, err := checkSVG(path)
		switch {
		case tc.end < 0 && err == nil:
			t.Errorf("%s: accepted", tc.name)
		case tc.end >= 0 && (err != nil || geo.headingEnd != tc.end || geo.width != 300 || geo.height != 200):
			t.Errorf("%s: %+v, %v; want the heading to end at %g", tc.name, geo, err, tc.end)
		}
	}
}

// TestKindOf: the kind of picture comes from map.svg's title, with the renderer's own bound
// between figures and plots.
func TestKindOf(t *testing.T) {
	if smallView != render.SmallView {
		t.Fatalf("smallView is %d, but render.SmallView is %d", smallView, render.SmallView)
	}
	for _, tc := range []struct {
		title string
		want  pictureKind
		ok    bool
	}{
		{"nlfs map: empty view", emptyView, true},
		{"nlfs map: 3 view pages in 3 runs, 3 VMAs", smallFigure, true},
		{"nlfs map: 64 view pages in 1 runs, 1 VMAs", smallFigure, true},
		{"nlfs map: 65 view pages in 1 runs, 1 VMAs", largePlot, true},
		{"nlfs map: 1048576 view pages in 1048575 runs", largePlot, true},
		{"nlfs map: 6 view pages, step by step: the view after each of 3 remap calls", smallFigure, true},
		{"nlfs map: 0 view pages, 0 runs", pictureKind{}, false},
		{"nlfs map: many view pages", pictureKind{}, false},
		{"a picture", pictureKind{}, false},
	} {
		got, err := kindOf(tc.title)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("kindOf(%q) = %v, %v; want %v (ok %v)", tc.title, got, err, tc.want, tc.ok)
		}
	}
}
