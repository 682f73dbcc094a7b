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

// screenshot writes a 1000×800 PNG (scripts/check-svg.sh's window) of background bg with
// the first `inked` pixels, row by row, in colour ink, and returns its path.
func screenshot(t *testing.T, bg, ink color.Color, inked int) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 1000, 800))
	for y := range 800 {
		for x := range 1000 {
			c := bg
			if y*1000+x < inked {
				c = ink
			}
			img.Set(x, y, c)
		}
	}
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

// TestCheckPNG: the drawn fraction a screenshot needs depends on its kind of picture, and
// what counts as drawn is ink, not any second colour. The blank and near-blank pages are the
// planted faults: each passed the old check (two colours) or would pass a lower threshold.
func TestCheckPNG(t *testing.T) {
	white, offWhite := color.RGBA{255, 255, 255, 255}, color.RGBA{254, 254, 254, 255}
	ink, grid := color.RGBA{0x22, 0x22, 0x22, 255}, color.RGBA{0xe3, 0xe3, 0xe3, 255}
	const pixels = 1000 * 800
	for _, tc := range []struct {
		name   string
		bg, c  color.Color
		inked  int
		kind   pictureKind
		passes bool
	}{
		{"blank", white, white, 0, emptyView, false},
		{"one off-white pixel", white, offWhite, 1, emptyView, false},
		{"a tenth of the page off-white", white, offWhite, pixels / 10, smallFigure, false},
		{"one dark pixel", white, ink, 1, emptyView, false},
		{"a heading only (0.61%), as a small figure", white, ink, pixels * 61 / 10000, smallFigure, false},
		{"a heading only (0.61%), as a large plot", white, ink, pixels * 61 / 10000, largePlot, false},
		{"a heading only (0.61%), as the empty view", white, ink, pixels * 61 / 10000, emptyView, true},
		{"1.5%: a figure, not a plot", white, ink, pixels * 15 / 1000, smallFigure, true},
		{"1.5% as a large plot", white, ink, pixels * 15 / 1000, largePlot, false},
		{"1.2% as a small figure", white, ink, pixels * 12 / 1000, smallFigure, false},
		{"2.9% (vmas-stale)", white, ink, pixels * 29 / 1000, smallFigure, true},
		{"3.4% (reverse-100000)", white, ink, pixels * 34 / 1000, largePlot, true},
		{"light grid lines count as drawn", white, grid, pixels * 33 / 1000, largePlot, true},
		{"on a dark background", color.RGBA{0, 0, 0, 255}, white, pixels * 29 / 1000, smallFigure, true},
		{"more drawn than background", white, ink, pixels * 6 / 10, largePlot, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg, err := checkPNG(screenshot(t, tc.bg, tc.c, tc.inked), tc.kind)
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
