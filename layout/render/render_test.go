package render

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/xml"
	"flag"
	"fmt"
	"image/png"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/nlfs/nlfs/layout"
	"github.com/nlfs/nlfs/run"
)

// The golden files share the package's -update flag; it is looked up by name so that these tests
// do not depend on which test file declares it.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files in testdata")
	}
}

func renderUpdating() bool { return flag.Lookup("update").Value.String() == "true" }

// renderPages compiles a page list, the way a layout becomes runs.
func renderPages(pages ...int64) []run.Run { return layout.Compile(pages) }

// renderReverse is n-1 ... 0: n single-page runs.
func renderReverse(n int64) []run.Run {
	pages := make([]int64, n)
	for i := range pages {
		pages[i] = n - 1 - int64(i)
	}
	return layout.Compile(pages)
}

// renderShuffle is a fixed random permutation of n pages.
func renderShuffle(n int, seed uint64) []run.Run {
	r := rand.New(rand.NewPCG(seed, 0x6e6c6673))
	pages := make([]int64, n)
	for i, p := range r.Perm(n) {
		pages[i] = int64(p)
	}
	return layout.Compile(pages)
}

// renderRandomPlusRun is 60,000 random single-page runs from the upper half of a 200,000-page store,
// then one long run over its lower half.
func renderRandomPlusRun() []run.Run {
	r := rand.New(rand.NewPCG(7, 7))
	pages := make([]int64, 0, 160000)
	for len(pages) < 60000 {
		p := 100000 + r.Int64N(100000)
		if n := len(pages); n > 0 && pages[n-1]+1 == p {
			continue // keep every random page a run of its own
		}
		pages = append(pages, p)
	}
	for p := range int64(100000) {
		pages = append(pages, p)
	}
	return layout.Compile(pages)
}

// renderLetters is what the demos' stores hold: page i filled with the letter A+i; pages from 26 on
// hold zeros, which are not printable.
var renderLetters = Illustration(nil, 0, "").FirstByte

const renderBase = IllustrationBase

// renderMaps is what /proc/self/maps says of a view mapped at renderBase with these runs: one line
// per run, as the kernel holds one VMA per maximal run.
func renderMaps(runs []run.Run) []string { return Illustration(runs, 0, "").Maps }

// renderMounted is what engine passes for a mounted view of these runs: VMAs and letters.
func renderMounted(runs []run.Run, data int64, backend string) Info {
	return Illustration(runs, data, backend)
}

var renderTLPIInfo = renderMounted(renderPages(2, 1, 0), 3, "remap")

type renderCase struct {
	name string
	runs func() []run.Run
	info Info
}

var renderCases = []renderCase{
	{"empty", func() []run.Run { return nil }, Info{DataPages: 16, VMAs: 0, Backend: "remap"}},
	{"identity-8", func() []run.Run { return run.Identity(8) }, Info{DataPages: 8, VMAs: 1, Backend: "remap"}},
	{"tlpi", func() []run.Run { return renderPages(2, 1, 0) }, renderTLPIInfo},
	{"tlpi-layout-show", func() []run.Run { return renderPages(2, 1, 0) }, Info{DataPages: 3, VMAs: -1}},
	{"issue11-4-5_2-5", func() []run.Run { return renderPages(4, 5, 2, 3, 4, 5) }, renderMounted(renderPages(4, 5, 2, 3, 4, 5), 6, "remap")},
	{"alias-frames", func() []run.Run { return renderPages(0, 0, 0, 1) }, func() Info {
		i := renderMounted(renderPages(0, 0, 0, 1), 2, "remap")
		i.Frames = []uint64{0x1a2b3, 0x1a2b3, 0x1a2b3, 0x1a2b4}
		return i
	}()},
	{"gather-small", func() []run.Run { return renderPages(1, 0) }, Info{DataPages: 2, VMAs: 0, Backend: "gather", Maps: []string{}, FirstByte: renderLetters}},
	// Lines of a mapping that is not the view (read while a new layout was swapped in): drawn by runs.
	{"vmas-stale", func() []run.Run { return renderPages(1, 0) }, Info{DataPages: 2, VMAs: 1, Backend: "remap", ViewAddr: renderBase,
		Maps: renderMaps(renderPages(0, 1)), FirstByte: renderLetters}},
	{"wide-60", func() []run.Run { return renderPages(renderInterleave(60, 3)...) }, renderMounted(renderPages(renderInterleave(60, 3)...), 60, "mmap")},
	{"far-pages", func() []run.Run { return renderPages(0, 1, 500, 9000) }, Info{DataPages: 10000, VMAs: -1, FirstByte: renderLetters}},
	{"reverse-8", func() []run.Run { return renderReverse(8) }, Info{DataPages: 8, VMAs: 8, Backend: "mmap"}},
	{"alias-0101", func() []run.Run { return renderPages(0, 1, 0, 1) }, Info{DataPages: 2, VMAs: 2, Backend: "remap"}},
	{"alias-555", func() []run.Run { return renderPages(5, 5, 5) }, Info{DataPages: 8, VMAs: 3, Backend: "remap"}},
	{"past-data", func() []run.Run { return renderPages(0, 1, 2, 3, 6, 7, 7) }, Info{DataPages: 5, VMAs: 3, Backend: "remap"}},
	{"unknown-data", func() []run.Run { return renderPages(9, 3, 1000) }, Info{DataPages: math.MaxInt64, VMAs: -1}},
	{"frames", func() []run.Run { return renderPages(0, 1, 0, 1, 2) }, Info{DataPages: 4, VMAs: 3, Backend: "remap",
		Frames: []uint64{0x1a2b3, 0x1a2b4, 0x1a2b3, 0x1a2b4, 0}}},
	{"frames-note", func() []run.Run { return renderPages(2, 1, 0) }, Info{DataPages: 3, VMAs: 3, Backend: "remap",
		FramesNote: "physical frames need root (/proc/self/pagemap)"}},
	{"interleave-40", func() []run.Run { return renderPages(renderInterleave(40, 4)...) }, Info{DataPages: 40, VMAs: 40, Backend: "remap"}},
	{"reverse-100000", func() []run.Run { return renderReverse(100000) }, Info{DataPages: 100000, VMAs: -1, Backend: "gather"}},
	{"random-60000-plus-run", renderRandomPlusRun, Info{DataPages: 200000, VMAs: -1, Backend: "gather"}},
	{"shuffle-1048576", func() []run.Run { return renderShuffle(1<<20, 1) }, Info{DataPages: 1 << 20, VMAs: -1, Backend: "gather"}},
	{"blocks-2000", renderBlocks, Info{DataPages: 3000, VMAs: 40, Backend: "remap"}},
}

// renderInterleave takes every k-th page: 0 k 2k ... 1 k+1 ...
func renderInterleave(n, k int64) []int64 {
	var pages []int64
	for s := range k {
		for p := s; p < n; p += k {
			pages = append(pages, p)
		}
	}
	return pages
}

// renderBlocks is a view of 2,000 pages in 40 runs of 50 pages taken in a scrambled order, with one
// block past the end of data: few enough runs to be drawn as segments.
func renderBlocks() []run.Run {
	var runs []run.Run
	for i := range int64(40) {
		runs = append(runs, run.Run{View: 50 * i, File: 50 * ((i * 17) % 40), Count: 50})
	}
	runs[39].File = 2980
	return runs
}

func TestRenderGolden(t *testing.T) {
	for _, c := range renderCases {
		t.Run(c.name, func(t *testing.T) {
			runs := c.runs()
			for _, kind := range []struct {
				ext    string
				render func(io.Writer, []run.Run, Info) error
			}{{".txt", Text}, {".svg", SVG}} {
				var b bytes.Buffer
				if err := kind.render(&b, runs, c.info); err != nil {
					t.Fatal(err)
				}
				renderGolden(t, filepath.Join("testdata", c.name+kind.ext), b.Bytes())
			}
		})
	}
}

func renderGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if renderUpdating() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./layout/render -run TestRenderGolden -update to create it)", err)
	}
	if bytes.Equal(got, want) {
		return
	}
	if strings.HasSuffix(path, ".svg") {
		// A density image is PNG-compressed by the standard library, whose compressed bytes may change
		// between Go releases: compare such images by their pixels.
		got, want = renderSamePixels(t, got), renderSamePixels(t, want)
		if bytes.Equal(got, want) {
			return
		}
	}
	gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := range max(len(gl), len(wl)) {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Fatalf("%s differs at line %d:\n got: %.200q\nwant: %.200q\n(-update rewrites it)", path, i+1, g, w)
		}
	}
}

var renderPNG = regexp.MustCompile(`data:image/png;base64,([A-Za-z0-9+/=]+)`)

// renderSamePixels replaces each embedded PNG of an SVG by a digest of its pixels.
func renderSamePixels(t *testing.T, doc []byte) []byte {
	return renderPNG.ReplaceAllFunc(doc, func(m []byte) []byte {
		raw, err := base64.StdEncoding.DecodeString(string(renderPNG.FindSubmatch(m)[1]))
		if err != nil {
			t.Fatalf("embedded PNG: %v", err)
		}
		img, err := png.Decode(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("embedded PNG: %v", err)
		}
		h := sha256.New()
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bl, a := img.At(x, y).RGBA()
				fmt.Fprintf(h, "%x %x %x %x,", r, g, bl, a)
			}
		}
		return fmt.Appendf(nil, "png %v %x", b.Size(), h.Sum(nil))
	})
}

// TestRenderTLPI pins the essentials of the text map that the README and the demo show.
func TestRenderTLPI(t *testing.T) {
	var b bytes.Buffer
	if err := Text(&b, renderPages(2, 1, 0), renderTLPIInfo); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"view 0 -> store 2  'C'\nview 1 -> store 1  'B'\nview 2 -> store 0  'A'\n",
		"view page   0  1  2\nview       [C][B][A]\nstore page  2  1  0\n",
		"store page  0  1  2\nstore       A  B  C\nshown at    2  1  0\n",
		// Before 4.0 only view pages 0 and 2, away from their linear place, had a file PTE.
		"view page   0  1  2\nbefore 4.0 [C  B  A]\nfile PTE    2  -  0\nsince 4.0  [C][B][A]\n",
		"vmas_before_linux_4_0: 1\n", "pte_offsets_before_linux_4_0: 2\n", "vmas_since_linux_4_0: 3\n",
		"  1  view 0 <- store 2  7f0bdfa04000-7f0bdfa05000 rw-s 00002000\n",
		"view_pages: 3\n", "data_pages: 3\n", "runs: 3\n", "vmas: 3\n", "backend: remap\n",
		"aliased_store_pages: 0\n", "view_pages_past_data: 0\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("map lacks %q:\n%s", want, out)
		}
	}
}

func TestRenderMarks(t *testing.T) {
	text := func(runs []run.Run, info Info) string {
		var b bytes.Buffer
		if err := Text(&b, runs, info); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	out := text(renderPages(0, 1, 0, 1), Info{DataPages: 2, VMAs: -1})
	for _, want := range []string{"view 0 -> store 0  (alias: also at view 2)", "aliased_store_pages: 2\n", "vmas: unknown\n",
		"shown at    *  *\n", "  store page 0 is shown at view pages 0, 2\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("alias map lacks %q:\n%s", want, out)
		}
	}
	out = text(renderPages(0, 6, 6), Info{DataPages: 4, VMAs: -1})
	for _, want := range []string{"view 1 -> store 6  (alias: also at view 2; past the end of data: reads as zeros)", "view_pages_past_data: 2\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("past-data map lacks %q:\n%s", want, out)
		}
	}
	out = text(renderPages(3, 2, 1), Info{DataPages: 4, VMAs: -1, Frames: []uint64{7, 9, 7}})
	for _, want := range []string{"frame 0x7: view 0, 2\n", "shared_frames: 1\n", "view 1 -> store 2  frame 0x9\n", "a physical frame is the page of RAM"} {
		if !strings.Contains(out, want) {
			t.Errorf("frames map lacks %q:\n%s", want, out)
		}
	}
	out = text(renderPages(3, 2, 1), Info{DataPages: 4, VMAs: -1, FramesNote: "physical frames need root"})
	if !strings.Contains(out, "frames: unknown (physical frames need root)\n") {
		t.Errorf("frames note missing:\n%s", out)
	}
	out = text(renderPages(3, 2, 1), Info{DataPages: 4, VMAs: -1, Frames: []uint64{7}})
	if !strings.Contains(out, "frames: unknown (1 frames given for 3 view pages)") || strings.Contains(out, "frame 0x") {
		t.Errorf("frames of the wrong length must not be used:\n%s", out)
	}
	out = text(renderReverse(60000), Info{DataPages: 60000, VMAs: -1})
	if !strings.Contains(out, "view 0-59999 -> store 59999-0 (descending, 60000 runs)\n") {
		t.Errorf("reverse not collapsed:\n%s", out)
	}
	out = text([]run.Run{{View: 0, File: 0, Count: 10}, {View: 10, File: 100, Count: 10}, {View: 20, File: 5, Count: 200}}, Info{DataPages: 50, VMAs: -1})
	for _, want := range []string{"view 10-19  -> store 100-109 (past the end of data)\n", "view 0-9    -> store 0-9\n", "view_pages_past_data: 165\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("runs map lacks %q:\n%s", want, out)
		}
	}
	out = text([]run.Run{{View: 0, File: 12, Count: 4}, {View: 4, File: 8, Count: 4}, {View: 8, File: 4, Count: 4}, {View: 12, File: 0, Count: 4}, {View: 16, File: 0, Count: 2}, {View: 18, File: 0, Count: 2}, {View: 20, File: 0, Count: 2}, {View: 22, File: 0, Count: 60}, {View: 82, File: 0, Count: 1}, {View: 83, File: 4, Count: 1}, {View: 84, File: 8, Count: 1}},
		Info{DataPages: 16, VMAs: -1})
	for _, want := range []string{
		"view 0-15  -> store 12-15, 8-11, ..., 0-3 (4 runs of 4 pages)\n",
		"view 16-21 -> store 0-1 (repeated, 3 runs of 2 pages)\n",
		"view 22-81 -> store 0-59 (past the end of data)\n",
		"view 82-84 -> store 0-8 (step 4, 3 runs)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stretches map lacks %q:\n%s", want, out)
		}
	}
	for _, empty := range [][]run.Run{nil, {}, {{View: 0, File: 5, Count: 0}}} {
		if out := text(empty, Info{DataPages: 4, VMAs: -1}); !strings.HasPrefix(out, "empty view") {
			t.Errorf("empty view drawn as:\n%s", out)
		}
	}
}

// renderBruteStats counts the totals page by page, to check the run-based sweep.
func renderBruteStats(pages []int64, dataPages int64) (shown, aliased, past int64) {
	seen := map[int64]int{}
	for _, p := range pages {
		seen[p]++
		if p >= dataPages {
			past++
		}
	}
	for _, n := range seen {
		shown++
		if n > 1 {
			aliased++
		}
	}
	return
}

// renderRandomRuns makes a view of a random shape: a mix of long runs, single pages, repeats,
// descending stretches and huge counts, so that the bounds are tested on more than shuffles.
func renderRandomRuns(r *rand.Rand) []run.Run {
	var runs []run.Run
	var view int64
	add := func(file, count int64) {
		runs = append(runs, run.Run{View: view, File: file, Count: count})
		view += count
	}
	pieces := r.IntN(6)
	if r.IntN(5) == 0 {
		pieces = r.IntN(600) // up to ~60,000 runs: enough to bin
	}
	store := int64(1) << r.IntN(40)
	for range pieces {
		switch r.IntN(5) {
		case 0: // a long run
			n := 1 + r.Int64N(store)
			add(r.Int64N(store), n)
		case 1: // random single pages
			for range r.IntN(200) {
				add(r.Int64N(store), 1)
			}
		case 2: // a repeated page
			p := r.Int64N(store)
			for range r.IntN(100) {
				add(p, 1)
			}
		case 3: // descending
			p := r.Int64N(store) + 200
			for i := range int64(r.IntN(200)) {
				add(p-i, 1)
			}
		case 4: // a few small pages, to make small views likely
			for range r.IntN(8) {
				add(r.Int64N(8), 1+r.Int64N(3))
			}
		}
	}
	return runs
}

func TestRenderProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	n := 150
	if testing.Short() {
		n = 30
	}
	for i := range n {
		runs := renderRandomRuns(r)
		info := Info{DataPages: r.Int64N(1 << 20), VMAs: int64(r.IntN(3)) - 1}
		if r.IntN(3) == 0 {
			info.DataPages = math.MaxInt64
		}
		if r.IntN(2) == 0 {
			// What a mount passes: contents, and the kernel's lines when the view is mapped.
			info.FirstByte = renderLetters
			if len(runs) < 1000 && r.IntN(2) == 0 {
				info.Maps, info.ViewAddr = renderMaps(mapRuns(runs)), renderBase
			}
		}
		renderCheck(t, fmt.Sprintf("case %d", i), runs, info)
	}
	renderCheck(t, "shuffle", renderShuffle(1<<20, 9), Info{DataPages: 1 << 19, VMAs: -1, Frames: make([]uint64, 1<<20)})
	renderCheck(t, "alternating", renderPages(renderAlternating(1<<18)...), Info{DataPages: 2, VMAs: -1})
	renderCheck(t, "huge", []run.Run{{View: 0, File: 1 << 52, Count: 1 << 52}, {View: 1 << 52, File: 0, Count: 1 << 40}}, Info{DataPages: 1 << 40, VMAs: -1})
	renderCheck(t, "garbage", []run.Run{{View: 0, File: -5, Count: 3}, {View: 3, File: 1, Count: -2}, {View: 0, File: math.MaxInt64, Count: math.MaxInt64}, {View: 9, File: 2, Count: 7}}, Info{DataPages: -1, VMAs: -7})
}

func renderAlternating(n int) []int64 {
	pages := make([]int64, n)
	for i := range pages {
		pages[i] = int64(i % 2)
	}
	return pages
}

// renderCheck renders runs both ways and checks the bounds the files promise.
func renderCheck(t *testing.T, name string, runs []run.Run, info Info) {
	t.Helper()
	var view int64
	for _, r := range runs {
		view += max(r.Count, 0)
	}
	var txt, svg bytes.Buffer
	if err := Text(&txt, runs, info); err != nil {
		t.Fatal(err)
	}
	if err := SVG(&svg, runs, info); err != nil {
		t.Fatal(err)
	}
	lines := strings.Count(txt.String(), "\n")
	if view > SmallView && (lines > 120 || txt.Len() > 16<<10) {
		t.Errorf("%s: %d view pages: text map is %d lines, %d bytes:\n%s", name, view, lines, txt.Len(), txt.String())
	}
	// A small view is drawn page by page: its 64 rows, two figures and the first 16 VMAs.
	if lines > 200 {
		t.Errorf("%s: text map is %d lines:\n%s", name, lines, txt.String())
	}
	if view <= SmallView && view > 0 && info.FirstByte != nil && !strings.HasPrefix(txt.String(), "view page ") &&
		!strings.Contains(txt.String(), "too wide for the figures") {
		t.Errorf("%s: small view without its figures:\n%s", name, txt.String())
	}
	if !bytes.HasSuffix(txt.Bytes(), []byte("\n")) || !strings.Contains(txt.String(), "\nruns: ") {
		t.Errorf("%s: text map without totals:\n%s", name, txt.String())
	}
	if svg.Len() >= 1<<20 {
		t.Errorf("%s: SVG is %d bytes", name, svg.Len())
	}
	if err := renderCheckSVG(svg.Bytes()); err != nil {
		t.Errorf("%s: %v", name, err)
	}
	// Deterministic.
	var again bytes.Buffer
	SVG(&again, runs, info)
	if !bytes.Equal(again.Bytes(), svg.Bytes()) {
		t.Errorf("%s: SVG differs between two renderings", name)
	}
	// Exact totals for views small enough to count page by page.
	if view > 0 && view <= 1<<21 && info.DataPages >= 0 && info.DataPages < math.MaxInt64 && runs[0].File >= 0 && runs[0].Count > 0 {
		shown, aliased, past := renderBruteStats(run.Pages(runs), info.DataPages)
		for key, want := range map[string]int64{"store_pages_shown": shown, "aliased_store_pages": aliased, "view_pages_past_data": past} {
			if got := renderTotal(txt.String(), key); got != strconv.FormatInt(want, 10) {
				t.Errorf("%s: %s: %s, want %d", name, key, got, want)
			}
		}
	}
}

func renderTotal(text, key string) string {
	m := regexp.MustCompile(`(?m)^` + key + `: (.*)$`).FindStringSubmatch(text)
	if m == nil {
		return "(missing)"
	}
	return m[1]
}

// renderCheckSVG parses the whole document as XML and checks what a browser needs: an <svg> root in
// the SVG namespace with a viewBox, and a non-empty <title>.
func renderCheckSVG(doc []byte) error {
	d := xml.NewDecoder(bytes.NewReader(doc))
	var root *xml.StartElement
	var title strings.Builder
	depth, inTitle := 0, false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("SVG does not parse: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				if root != nil {
					return fmt.Errorf("SVG has two roots")
				}
				root = &tok
			}
			inTitle = depth == 1 && tok.Name.Local == "title"
			depth++
		case xml.EndElement:
			depth--
			inTitle = false
		case xml.CharData:
			if inTitle {
				title.Write(tok)
			}
		}
	}
	if root == nil || root.Name.Local != "svg" || root.Name.Space != "http://www.w3.org/2000/svg" {
		return fmt.Errorf("SVG root is %v", root)
	}
	hasViewBox := false
	for _, a := range root.Attr {
		hasViewBox = hasViewBox || a.Name.Local == "viewBox" && len(strings.Fields(a.Value)) == 4
	}
	if !hasViewBox {
		return fmt.Errorf("SVG root has no viewBox")
	}
	if strings.TrimSpace(title.String()) == "" {
		return fmt.Errorf("SVG has no <title>")
	}
	return nil
}

func TestRenderEscapes(t *testing.T) {
	info := Info{DataPages: 4, VMAs: -1, Backend: `<&"x">`, FramesNote: "a < b & c"}
	for _, runs := range [][]run.Run{renderPages(1, 0), renderReverse(100)} {
		var b bytes.Buffer
		if err := SVG(&b, runs, info); err != nil {
			t.Fatal(err)
		}
		if err := renderCheckSVG(b.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
}

func BenchmarkRenderShuffle(b *testing.B) {
	runs := renderShuffle(1<<20, 1)
	info := Info{DataPages: 1 << 20, VMAs: -1, Backend: "gather"}
	b.Run("text", func(b *testing.B) {
		for b.Loop() {
			Text(io.Discard, runs, info)
		}
	})
	b.Run("svg", func(b *testing.B) {
		for b.Loop() {
			SVG(io.Discard, runs, info)
		}
	})
}

// renderLTP is LTP's remap_file_pages01 as remap lines: each pair of a 16-page window swapped,
// one call per page (the ltp demo's layout).
func renderLTP() string {
	var b strings.Builder
	for p := range 16 {
		fmt.Fprintf(&b, "remap %d 1 %d\n", p, p^1)
	}
	return b.String()
}

func TestRenderStepsGolden(t *testing.T) {
	big := "0-99\n"
	for i := range 5 {
		big += fmt.Sprintf("remap %d 10 %d\n", 10*i, 90-10*i)
	}
	for _, c := range []struct {
		name, text string
		data       int64
	}{
		{"steps-ltp", renderLTP(), 16},
		// Split, then merged back: what the issue's `0-5` + `remap 0 2 4` does, and its undoing.
		{"steps-4-5_2-5", "0-5\nremap 0 2 4\nremap 2 2 0\nremap 0 4 0\n", 6},
		{"steps-reverse-back", "7-0\nremap 0 8 0\n", 8},
		{"steps-large", big, 100},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, steps, err := layout.Steps([]byte(c.text), layout.Limits{DataPages: c.data})
			if err != nil {
				t.Fatal(err)
			}
			var txt, svg bytes.Buffer
			if err := StepsText(&txt, steps, Info{DataPages: c.data, VMAs: -1}); err != nil {
				t.Fatal(err)
			}
			if err := StepsSVG(&svg, steps, Info{DataPages: c.data, VMAs: -1}); err != nil {
				t.Fatal(err)
			}
			if err := renderCheckSVG(svg.Bytes()); err != nil {
				t.Fatal(err)
			}
			renderGolden(t, filepath.Join("testdata", c.name+".txt"), txt.Bytes())
			// A large view's steps are lines of text, not a figure: scripts/check-svg.sh, which
			// draws every golden SVG, holds pictures to what figures and plots cover.
			if run.ViewPages(steps[0].Runs) <= SmallView {
				renderGolden(t, filepath.Join("testdata", c.name+".svg"), svg.Bytes())
			}
		})
	}
}

// TestRenderStepChange pins what each kind of call is said to do to the VMAs (as StepWords and
// the drawings of the steps say it).
func TestRenderStepChange(t *testing.T) {
	for _, c := range []struct {
		start string
		call  layout.Step
		want  string
	}{
		{"0-5", layout.Step{View: 0, Count: 2, File: 4}, "view pages 0-1 show store pages 4-5: 1 VMA -> 2 (split at view page 2)"},
		{"0-5", layout.Step{View: 2, Count: 2, File: 0}, "view pages 2-3 show store pages 0-1: 1 VMA -> 3 (split at view pages 2 and 4)"},
		{"0-5", layout.Step{View: 1, Count: 2, File: 1}, "view pages 1-2 show store pages 1-2: as before, still 1 VMA"},
		{"4-5 2-5", layout.Step{View: 0, Count: 2, File: 0}, "view pages 0-1 show store pages 0-1: 2 VMAs -> 1 (merged with the VMA after)"},
		{"0 5 2", layout.Step{View: 1, Count: 1, File: 1}, "view page 1 shows store page 1: 3 VMAs -> 1 (merged with the VMA before; merged with the VMA after)"},
		{"7-0", layout.Step{View: 0, Count: 8, File: 0}, "view pages 0-7 show store pages 0-7: 8 VMAs -> 1 (8 VMAs replaced by one)"},
		{"1 0 2-3", layout.Step{View: 1, Count: 1, File: 5}, "view page 1 shows store page 5: 3 VMAs -> 3 (the VMA there replaced)"},
	} {
		l, err := layout.Parse([]byte(c.start), layout.Limits{DataPages: 8})
		if err != nil {
			t.Fatal(err)
		}
		after := layout.RemapRuns(l.Runs, c.call.View, c.call.Count, c.call.File)
		what, vmas := stepChange(l.Runs, after, c.call)
		if got := what + ": " + vmas; got != c.want {
			t.Errorf("%s then remap %d %d %d:\n got %s\nwant %s", c.start, c.call.View, c.call.Count, c.call.File, got, c.want)
		}
	}
}

// TestRenderBoxesAreVMAs: the small drawings box the kernel's VMAs when the maps lines tile the
// view, and fall back to the runs (never a guess) when they do not.
func TestRenderBoxesAreVMAs(t *testing.T) {
	runs := renderPages(4, 5, 2, 3, 4, 5)
	pages := run.Pages(runs)
	good := renderMounted(runs, 6, "remap")
	if boxes, kernel := mapBoxes(runs, pages, good); !kernel || len(boxes) != 2 || boxes[1].Run != (run.Run{View: 2, File: 2, Count: 4}) {
		t.Errorf("VMAs that tile the view: %v, kernel %v", boxes, kernel)
	}
	// A VMA merged with a mapping of the store just before the view still boxes the view's part.
	merged := good
	merged.Maps = append([]string{fmt.Sprintf("%x-%x rw-s 00002000 00:01 2054 /memfd:nlfs-data (deleted)", renderBase-2*4096, renderBase+2*4096)}, good.Maps[1:]...)
	if boxes, kernel := mapBoxes(runs, pages, merged); !kernel || boxes[0].Run != (run.Run{View: 0, File: 4, Count: 2}) {
		t.Errorf("merged VMA: %v, kernel %v", boxes, kernel)
	}
	for name, maps := range map[string][]string{
		"another layout's": renderMaps(renderPages(0, 1, 2, 3, 4, 5)),
		"a hole":           {good.Maps[1]},
		"garbage":          {"not a maps line"},
		"one short":        good.Maps[:1],
	} {
		info := good
		info.Maps = maps
		if boxes, kernel := mapBoxes(runs, pages, info); kernel || len(boxes) != 2 {
			t.Errorf("%s lines: boxes %v, kernel %v; want the 2 runs", name, boxes, kernel)
		}
	}
}

// TestRenderStepsBounded: the step drawings stay bounded at the most steps layout.Steps yields,
// on a small view (drawn row by row) and on the largest view (described line by line).
func TestRenderStepsBounded(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, view := range []int64{SmallView, layout.DefaultMaxViewPages} {
		var b strings.Builder
		for range layout.MaxSteps {
			n := 1 + r.Int64N(view/2)
			fmt.Fprintf(&b, "remap %d %d %d\n", r.Int64N(view-n+1), n, r.Int64N(view-n+1))
		}
		_, steps, err := layout.Steps([]byte(b.String()), layout.Limits{DataPages: view})
		if err != nil {
			t.Fatal(err)
		}
		var txt, svg bytes.Buffer
		StepsText(&txt, steps, Info{DataPages: view, VMAs: -1})
		StepsSVG(&svg, steps, Info{DataPages: view, VMAs: -1})
		if lines := strings.Count(txt.String(), "\n"); lines > 11*(layout.MaxSteps+1)+20 || txt.Len() > 1<<20 {
			t.Errorf("view of %d pages: steps text is %d lines, %d bytes", view, lines, txt.Len())
		}
		if svg.Len() >= 1<<20 {
			t.Errorf("view of %d pages: steps SVG is %d bytes", view, svg.Len())
		}
		if err := renderCheckSVG(svg.Bytes()); err != nil {
			t.Error(err)
		}
	}
}

var (
	renderArrowPath = regexp.MustCompile(`<path d="(M[-\d.]+ [-\d.]+(?:[VH][-\d.]+)*)"/>`)
	renderPathStep  = regexp.MustCompile(`([MVH])([-\d.]+)(?: ([-\d.]+))?`)
)

// renderArrows reads the arrows of a small map.svg (paths of moves along the axes: M x y, then V y
// and H x) as polylines.
func renderArrows(t *testing.T, doc []byte) (lines [][][2]float64) {
	t.Helper()
	f := func(s string) float64 {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, m := range renderArrowPath.FindAllStringSubmatch(string(doc), -1) {
		var pts [][2]float64
		for _, st := range renderPathStep.FindAllStringSubmatch(m[1], -1) {
			switch st[1] {
			case "M":
				pts = append(pts, [2]float64{f(st[2]), f(st[3])})
			case "V":
				pts = append(pts, [2]float64{pts[len(pts)-1][0], f(st[2])})
			case "H":
				pts = append(pts, [2]float64{f(st[2]), pts[len(pts)-1][1]})
			}
		}
		lines = append(lines, pts)
	}
	return lines
}

// renderCross returns where segments ab and cd cross, if they do.
func renderCross(a, b, c, d [2]float64) ([2]float64, bool) {
	r := [2]float64{b[0] - a[0], b[1] - a[1]}
	s := [2]float64{d[0] - c[0], d[1] - c[1]}
	den := r[0]*s[1] - r[1]*s[0]
	if math.Abs(den) < 1e-9 {
		return [2]float64{}, false
	}
	u := ((c[0]-a[0])*s[1] - (c[1]-a[1])*s[0]) / den
	v := ((c[0]-a[0])*r[1] - (c[1]-a[1])*r[0]) / den
	if u < 0 || u > 1 || v < 0 || v > 1 {
		return [2]float64{}, false
	}
	return [2]float64{a[0] + u*r[0], a[1] + u*r[1]}, true
}

// renderNear reports whether point p lies within d of polyline l.
func renderNear(p [2]float64, l [][2]float64, d float64) bool {
	for i := 1; i < len(l); i++ {
		a, b := l[i-1], l[i]
		dx, dy := b[0]-a[0], b[1]-a[1]
		u := 0.0
		if n := dx*dx + dy*dy; n > 0 {
			u = max(0, min(1, ((p[0]-a[0])*dx+(p[1]-a[1])*dy)/n))
		}
		if math.Hypot(a[0]+u*dx-p[0], a[1]+u*dy-p[1]) <= d {
			return true
		}
	}
	return false
}

// TestRenderArrowsApart: in the small pictures, where a reader follows each arrow, every arrow
// can be told from every other. TLPI's 2 1 0 drawn with straight arrows had all three meet at one
// point and their heads bunch under one VMA; now each arrow runs at right angles in a lane of its
// own and rises into the middle of its view page: no two arrows share any stretch of line, no
// point is crossed by three of them, and each ends, pointing up, at a view page of its own.
func TestRenderArrowsApart(t *testing.T) {
	for _, c := range renderCases {
		var b bytes.Buffer
		runs := c.runs()
		if v := run.ViewPages(runs); v == 0 || v > SmallView {
			continue
		}
		if err := SVG(&b, runs, c.info); err != nil {
			t.Fatal(err)
		}
		lines := renderArrows(t, b.Bytes())
		if len(lines) != int(run.ViewPages(runs)) {
			t.Fatalf("%s: %d arrows read for %d view pages", c.name, len(lines), run.ViewPages(runs))
		}
		heads := map[float64]bool{}
		for i, l := range lines {
			end, before := l[len(l)-1], l[len(l)-2]
			if end[0] != before[0] || end[1] >= before[1] {
				t.Errorf("%s: arrow %d does not end rising into its view page: %v", c.name, i, l)
			}
			if heads[end[0]] {
				t.Errorf("%s: two arrows end at x %.1f", c.name, end[0])
			}
			heads[end[0]] = true
		}
		for i := range lines {
			for j := i + 1; j < len(lines); j++ {
				for a := 1; a < len(lines[i]); a++ {
					for k := 1; k < len(lines[j]); k++ {
						if renderOverlap(lines[i][a-1], lines[i][a], lines[j][k-1], lines[j][k]) {
							t.Errorf("%s: arrows %d and %d share a stretch of line: %v, %v", c.name, i, j, lines[i], lines[j])
						}
						p, ok := renderCross(lines[i][a-1], lines[i][a], lines[j][k-1], lines[j][k])
						if !ok {
							continue
						}
						met := 0
						for _, l := range lines {
							if renderNear(p, l, 1) {
								met++
							}
						}
						if met >= 3 {
							t.Errorf("%s: %d arrows meet at (%.1f, %.1f)", c.name, met, p[0], p[1])
						}
					}
				}
			}
		}
	}
}

// renderOverlap reports whether segments ab and cd, each along an axis, run along each other for
// more than a pixel.
func renderOverlap(a, b, c, d [2]float64) bool {
	for axis := range 2 {
		other := 1 - axis
		if a[axis] == b[axis] && c[axis] == d[axis] && math.Abs(a[axis]-c[axis]) < 0.5 {
			lo := max(min(a[other], b[other]), min(c[other], d[other]))
			hi := min(max(a[other], b[other]), max(c[other], d[other]))
			if hi-lo > 1 {
				return true
			}
		}
	}
	return false
}
