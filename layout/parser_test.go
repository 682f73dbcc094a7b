package layout

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/nlfs/nlfs/run"
)

// outcome renders everything Parse returns, unexported fields included, so that two ways of
// parsing can be compared exactly.
func outcome(l *Layout, err error) string {
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			return fmt.Sprintf("error of type %T: %v", err, err)
		}
		return "error: " + err.Error()
	}
	return fmt.Sprintf("%+v", *l)
}

// pageList renders the pages of a successful parse as the test tables write them.
func pageList(l *Layout) string {
	if l.Identity {
		return fmt.Sprintf("identity over %d", l.Pages)
	}
	return strings.Trim(fmt.Sprint(run.Pages(l.Runs)), "[]")
}

var parseTests = []struct {
	text string
	data int64
	max  int64
	want string // the page list, or the identity
}{
	{"", 16, 0, "identity over 16"},
	{"# only a comment\n\n \t,,\r\n", 16, 0, "identity over 16"},
	{"", 0, 0, "identity over 0"},
	{"2 1 0", 16, 0, "2 1 0"},
	{"0-3", 16, 0, "0 1 2 3"},
	{"7-4", 16, 0, "7 6 5 4"},
	{"3-3", 16, 0, "3"},
	{"5*3", 16, 0, "5 5 5"},
	{"0-1*2", 16, 0, "0 1 0 1"},
	{"1-0*3", 16, 0, "1 0 1 0 1 0"},
	{"2-4*2", 16, 0, "2 3 4 2 3 4"},
	{"0x0f 0X1a 0xA-0xc 0x2*0x2", 32, 0, "15 26 10 11 12 2 2"},
	{"007 0x007", 16, 0, "7 7"},
	{"1,2\t3\r\n4,,5", 16, 0, "1 2 3 4 5"},
	{"1#c\n2# c 3\n#\n3", 16, 0, "1 2 3"},
	{"0 1 2 3 7 6 5 4", 8, 0, "0 1 2 3 7 6 5 4"},
	{"0*8", 1, 8, "0 0 0 0 0 0 0 0"},
	{"4503599627370496 0x10000000000000", 1 << 62, 0, "4503599627370496 4503599627370496"},
	{"# the README's example\n2 1 0\n0-3\n7-4\n5*3\nremap 0 1 2\n", 16, 0,
		"2 1 0 0 1 2 3 7 6 5 4 5 5 5"},
	{"remap 0 1 2", 4, 0, "2 1 2 3"},
	{"  remap\t0,1,2 # comment", 4, 0, "2 1 2 3"},
	{"remap 0 2 2\nremap 1 1 0", 4, 0, "2 0 2 3"},
	{"remap 0 1 3\n0-3", 4, 0, "3 1 2 3"},
	{"0*6\nremap 1 3 5\nremap 2 3 1", 8, 0, "0 5 1 2 3 0"},
	{"0-7\nremap 0 8 0\nremap 3 2 0", 8, 0, "0 1 2 0 1 5 6 7"},
	{"3-0\nremap 0 4 0\n", 4, 0, "0 1 2 3"},
	{"remap 0 1 0x3\r\n", 4, 0, "3 1 2 3"},
}

var parseErrorTests = []struct {
	text string
	data int64
	max  int64
	want string
}{
	// Text that cannot be parsed.
	{"0 - 3", 16, 0, `line 1, column 3: unexpected "-"`},
	{"0- 3", 16, 0, `line 1, column 2: "-" must be followed by a page number`},
	{"0-", 16, 0, `line 1, column 2: "-" must be followed by a page number`},
	{"0-x", 16, 0, `line 1, column 2: "-" must be followed by a page number`},
	{"0 -3", 16, 0, `line 1, column 3: unexpected "-3"`},
	{"+3", 16, 0, `line 1, column 1: unexpected "+3"`},
	{"5*", 16, 0, `line 1, column 2: "*" must be followed by a repeat count`},
	{"5* 2", 16, 0, `line 1, column 2: "*" must be followed by a repeat count`},
	{"5 * 2", 16, 0, `line 1, column 3: unexpected "*"`},
	{"1-2-3", 16, 0, `line 1, column 4: unexpected "-3"`},
	{"1*2*3", 16, 0, `line 1, column 4: unexpected "*3"`},
	{"1*2-3", 16, 0, `line 1, column 4: unexpected "-3"`},
	{"12x", 16, 0, `line 1, column 3: unexpected "x"`},
	{"1x2", 16, 0, `line 1, column 2: unexpected "x2"`},
	{"0x", 16, 0, `line 1, column 1: "0x" must be followed by hex digits`},
	{"0x 1", 16, 0, `line 1, column 1: "0x" must be followed by hex digits`},
	{"0xg", 16, 0, `line 1, column 1: "0x" must be followed by hex digits`},
	{"0x1g", 16, 0, `line 1, column 4: unexpected "g"`},
	{"foo bar", 16, 0, `line 1, column 1: unexpected "foo"`},
	{"r", 16, 0, `line 1, column 1: unexpected "r"`},
	{"rem 0 1 2", 16, 0, `line 1, column 1: unexpected "rem"`},
	{"remapremap", 16, 0, `line 1, column 1: unexpected "remapremap"`},
	{"Remap 0 1 2", 16, 0, `line 1, column 1: unexpected "Remap"`},
	{"1 2\x00", 16, 0, `line 1, column 4: unexpected "\x00"`},
	{"1\u00a02", 16, 0, `line 1, column 2: unexpected "\u00a02"`},
	{"1\v2", 16, 0, `line 1, column 2: unexpected "\v2"`},
	{strings.Repeat("z", 40), 16, 0, `line 1, column 1: unexpected "` + strings.Repeat("z", 32) + `"...`},
	{"1\n2\n  x#", 16, 0, `line 3, column 3: unexpected "x"`},
	{"x 99", 16, 0, `line 1, column 1: unexpected "x"`},

	// Numbers.
	{"4503599627370497", 1 << 62, 0, "line 1, column 1: number starting 4503599627370497 is too large (the maximum is 4503599627370496)"},
	{"1 99999999999999999999999", 1 << 62, 0, "line 1, column 3: number starting 9999999999999999 is too large (the maximum is 4503599627370496)"},
	{"0x10000000000001", 1 << 62, 0, "line 1, column 1: number starting 0x10000000000001 is too large (the maximum is 4503599627370496)"},
	{"0000000000000000000004503599627370497", 1 << 62, 0, "line 1, column 1: number starting 4503599627370497 is too large (the maximum is 4503599627370496)"},

	// Store pages.
	{"16", 16, 0, "line 1, column 1: page 16 is past the end of data (16 pages)"},
	{"0-20", 16, 0, "line 1, column 3: page 20 is past the end of data (16 pages)"},
	{"20-0", 16, 0, "line 1, column 1: page 20 is past the end of data (16 pages)"},
	{"99x", 16, 0, "line 1, column 1: page 99 is past the end of data (16 pages)"},
	{"0", 0, 0, "line 1, column 1: page 0 is past the end of data (0 pages)"},
	{"1 2\n3 12", 8, 0, "line 2, column 3: page 12 is past the end of data (8 pages)"},

	// Repeats and view size.
	{"5*0", 16, 0, "line 1, column 3: repeat count must be at least 1"},
	{"0*99999999999", 16, 1000, "line 1, column 1: view would have 99999999999 pages, over the maximum of 1000 (--max-view-pages)"},
	{"0-1000000000", 2000000000, 0, "line 1, column 1: view would have 1000000001 pages, over the maximum of 1048576 (--max-view-pages)"},
	{"0-1 0*999", 16, 1000, "line 1, column 5: view would have 1001 pages, over the maximum of 1000 (--max-view-pages)"},
	{"0-4", 16, 4, "line 1, column 1: view would have 5 pages, over the maximum of 4 (--max-view-pages)"},
	{"0-4503599627370496*4503599627370496", 1 << 62, 0,
		"line 1, column 1: view would have 20282409603651674927546878656512 pages, over the maximum of 1048576 (--max-view-pages)"},
	{"remap 0 1 0", 16, 8, "line 1, column 1: view would have 16 pages, over the maximum of 8 (--max-view-pages)"},

	// Remap lines.
	{"remap 0 0 1", 16, 0, "line 1, column 9: remap NPAGES must be at least 1"},
	{"remap 0 1", 16, 0, "line 1, column 1: remap takes exactly three numbers: VIEWPAGE NPAGES PGOFF"},
	{"remap", 16, 0, "line 1, column 1: remap takes exactly three numbers: VIEWPAGE NPAGES PGOFF"},
	{"remap 0 1 # 2\n", 16, 0, "line 1, column 1: remap takes exactly three numbers: VIEWPAGE NPAGES PGOFF"},
	{"remap 0 1 2\n remap 1 2", 16, 0, "line 2, column 2: remap takes exactly three numbers: VIEWPAGE NPAGES PGOFF"},
	{"remap 0 1 2 3", 16, 0, "line 1, column 13: remap takes exactly three numbers: VIEWPAGE NPAGES PGOFF"},
	{"remap 0 1 2 x", 16, 0, "line 1, column 13: remap takes exactly three numbers: VIEWPAGE NPAGES PGOFF"},
	{"1 remap 0 1 2", 16, 0, "line 1, column 3: remap must be the first entry on its line"},
	{"remap 0 1 remap", 16, 0, "line 1, column 11: remap must be the first entry on its line"},
	{"remap 0-1 1 2", 16, 0, `line 1, column 8: unexpected "-1"`},
	{"remap 0 1 2*2", 16, 0, `line 1, column 12: unexpected "*2"`},
	{"remap 0 2 15", 16, 0, "line 1, column 11: page 16 is past the end of data (16 pages)"},
	{"remap 0 1 0", 0, 0, "line 1, column 11: page 0 is past the end of data (0 pages)"},
	{"0-3\nremap 2 4 0", 16, 0, "line 2, column 1: remap of view pages 2-5 runs past the end of the view (4 pages)"},
	{"0-3\n remap 4 1 0", 16, 0, "line 2, column 2: remap of view page 4 runs past the end of the view (4 pages)"},
	{"remap 15 2 0", 16, 0, "line 1, column 1: remap of view pages 15-16 runs past the end of the view (16 pages)"},
	{"0\nremap 0 3 0\nremap 0 9 0\n0", 16, 0, "line 2, column 1: remap of view pages 0-2 runs past the end of the view (2 pages)"},
	{"0-3\nremap 0 9 0\nremap 0 5 0\n0-3", 16, 0, "line 2, column 1: remap of view pages 0-8 runs past the end of the view (8 pages)"},
	{"0-3\nremap 0 5 0\nremap 0 2000000 0", 1 << 22, 0, "line 2, column 1: remap of view pages 0-4 runs past the end of the view (4 pages)"},
	{"0-3\nremap 0 2000000 0\nremap 0 5 0", 1 << 22, 0, "line 2, column 1: remap of view pages 0-1999999 runs past the end of the view (4 pages)"},
	// The first error in the text wins, except that range errors wait for the end of the text.
	{"0-3\nremap 0 9 0\nx", 16, 0, `line 3, column 1: unexpected "x"`},
}

func TestParse(t *testing.T) {
	for _, tc := range parseTests {
		lim := Limits{DataPages: tc.data, MaxViewPages: tc.max}
		l, err := Parse([]byte(tc.text), lim)
		if err != nil {
			t.Errorf("Parse(%q, %+v): %v", tc.text, lim, err)
			continue
		}
		if got := pageList(l); got != tc.want {
			t.Errorf("Parse(%q, %+v) = %s, want %s", tc.text, lim, got, tc.want)
		}
		checkLayout(t, l, lim)
		checkChunked(t, []byte(tc.text), lim)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range parseErrorTests {
		lim := Limits{DataPages: tc.data, MaxViewPages: tc.max}
		if got := outcome(Parse([]byte(tc.text), lim)); got != "error: "+tc.want {
			t.Errorf("Parse(%q, %+v):\n got %s\nwant error: %s", tc.text, lim, got, tc.want)
		}
		checkChunked(t, []byte(tc.text), lim)
	}
}

// checkLayout checks the invariants of a successful parse.
func checkLayout(t *testing.T, l *Layout, lim Limits) {
	t.Helper()
	if l.Identity {
		if l.Runs != nil || l.Pages != lim.DataPages {
			t.Errorf("identity layout %+v, want no runs and %d pages", *l, lim.DataPages)
		}
		return
	}
	maxView := lim.MaxViewPages
	if maxView == 0 {
		maxView = DefaultMaxViewPages
	}
	if l.Pages < 1 || l.Pages > maxView {
		t.Errorf("layout has %d pages, want 1..%d", l.Pages, maxView)
	}
	checkRuns(t, l.Runs, l.Pages)
	for _, f := range run.Pages(l.Runs) {
		if f < 0 || f >= lim.DataPages {
			t.Errorf("layout shows store page %d, outside 0..%d", f, lim.DataPages-1)
		}
	}
	if err := l.Check(lim.DataPages); err != nil {
		t.Errorf("Check(%d) of a layout parsed against it: %v", lim.DataPages, err)
	}
}

// checkRuns checks that runs cover view pages 0..pages-1 in order and are maximal.
func checkRuns(t *testing.T, runs []run.Run, pages int64) {
	t.Helper()
	var view int64
	for i, r := range runs {
		if r.View != view || r.Count < 1 {
			t.Fatalf("run %d = %+v, want view %d and count >= 1 (runs %v)", i, r, view, runs)
		}
		if i > 0 && runs[i-1].File+runs[i-1].Count == r.File {
			t.Fatalf("runs %d and %d are not maximal: %+v %+v", i-1, i, runs[i-1], r)
		}
		view += r.Count
	}
	if view != pages {
		t.Fatalf("runs cover %d pages, want %d", view, pages)
	}
}

// parseChunked feeds src to a Parser cut at the given offsets.
func parseChunked(src []byte, lim Limits, cuts ...int) (*Layout, error) {
	p := NewParser(lim)
	start := 0
	for _, c := range append(cuts, len(src)) {
		if _, err := p.Write(src[start:c]); err != nil {
			return p.Finish() // must return the same error
		}
		start = c
	}
	return p.Finish()
}

// checkChunked checks that feeding src to a Parser gives what Parse gives, however the text is cut:
// at every single point, and in 1-byte chunks with a Finish after each, which must give what Parse
// gives for the text so far (so Finish leaves the parser undisturbed).
func checkChunked(t *testing.T, src []byte, lim Limits) {
	t.Helper()
	want := outcome(Parse(src, lim))
	for cut := range len(src) + 1 {
		if got := outcome(parseChunked(src, lim, cut)); got != want {
			t.Fatalf("%q cut at %d:\n got %s\nwant %s", src, cut, got, want)
		}
	}
	p := NewParser(lim)
	for i := range src {
		p.Write(src[i : i+1])
		if got, want := outcome(p.Finish()), outcome(Parse(src[:i+1], lim)); got != want {
			t.Fatalf("%q fed byte by byte, Finish after %d bytes:\n got %s\nwant %s", src, i+1, got, want)
		}
	}
}

func TestWriteAfterError(t *testing.T) {
	p := NewParser(Limits{DataPages: 8})
	n, err1 := p.Write([]byte("1 2 x 3"))
	if n != 6 || err1 == nil {
		t.Fatalf("Write = %d, %v; want 6 (x is judged at the space after it) and an error", n, err1)
	}
	n, err2 := p.Write([]byte(" 4"))
	if n != 0 || err2 != err1 {
		t.Errorf("second Write = %d, %v; want 0 and the same error %v", n, err2, err1)
	}
	if _, err3 := p.Finish(); err3 != err1 {
		t.Errorf("Finish = %v; want the same error %v", err3, err1)
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		text      string
		data      int64 // parsed against
		checkData int64 // checked against later
		want      string
	}{
		{"0-3 9 2", 16, 10, ""},
		{"0-3 9 2", 16, 9, "line 1, column 5: page 9 is past the end of data (9 pages)"},
		{"1 9\n9", 16, 4, "line 1, column 3: page 9 is past the end of data (4 pages)"},
		{"0-2\n3-1*2", 16, 3, "line 2, column 1: page 3 is past the end of data (3 pages)"},
		{"0\nremap 0 1 7", 8, 7, "line 2, column 11: page 7 is past the end of data (7 pages)"},
		{"remap 0 2 12", 16, 14, "line 1, column 1: page 15 is past the end of data (14 pages)"},
		{"remap 0 2 14", 16, 15, "line 1, column 11: page 15 is past the end of data (15 pages)"},
		{"", 16, 0, ""},
		{"# nothing", 16, 2, ""},
	}
	for _, tc := range tests {
		l, err := Parse([]byte(tc.text), Limits{DataPages: tc.data})
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.text, err)
		}
		got := ""
		if err := l.Check(tc.checkData); err != nil {
			got = err.Error()
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("Check returned %T, want *Error", err)
			}
		}
		if got != tc.want {
			t.Errorf("Parse(%q, %d pages).Check(%d) = %q, want %q", tc.text, tc.data, tc.checkData, got, tc.want)
		}
	}
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestHugeViewsCostNothing checks that views over the maximum are refused before anything is expanded.
func TestHugeViewsCostNothing(t *testing.T) {
	tests := []struct {
		text string
		data int64
	}{
		{"0*99999999999", 16},
		{"0-1000000000", 2000000000},
		{"1000000000-0", 2000000000},
		{"1-0*4503599627370496", 16},
		{"remap 0 1 0", 1 << 40},
	}
	for _, tc := range tests {
		var err error
		if n := allocated(func() { _, err = Parse([]byte(tc.text), Limits{DataPages: tc.data}) }); n > 1<<20 {
			t.Errorf("Parse(%q) allocated %d bytes", tc.text, n)
		}
		if err == nil || !strings.Contains(err.Error(), "over the maximum") {
			t.Errorf("Parse(%q) = %v, want a view size error", tc.text, err)
		}
	}
}

// TestLongTokensCostNothing checks that comments, spaces and unexpected text of any length cost O(1)
// memory, and that a long number fails as soon as it is too large.
func TestLongTokensCostNothing(t *testing.T) {
	chunk := func(b byte) []byte { return bytes.Repeat([]byte{b}, 1<<20) }
	tests := []struct {
		first, body []byte
		want        string // "" for success
	}{
		{[]byte("1 #"), chunk('c'), ""},
		{[]byte("1"), chunk(' '), ""},
		{[]byte("1\n"), chunk('\n'), ""},
		{[]byte("1 "), chunk('z'), `line 1, column 3: unexpected "` + strings.Repeat("z", 32) + `"...`},
	}
	for _, tc := range tests {
		p := NewParser(Limits{DataPages: 8})
		p.Write(tc.first)
		n := allocated(func() {
			for range 4 {
				p.Write(tc.body)
			}
		})
		if n > 1<<16 {
			t.Errorf("4 MiB of %q allocated %d bytes", tc.body[0], n)
		}
		got := ""
		if _, err := p.Finish(); err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%q then 4 MiB of %q: got %q, want %q", tc.first, tc.body[0], got, tc.want)
		}
	}

	p := NewParser(Limits{DataPages: 8})
	if n, err := p.Write(chunk('9')); n != 16 || err == nil {
		t.Errorf("Write of 1 MiB of '9' = %d, %v; want an error at the 16th digit", n, err)
	}
}

// TestManyRemaps checks that a hostile text of many overlapping remap lines parses in near-linear
// time and that the parser's memory stays bounded by the view, not by the number of lines.
func TestManyRemaps(t *testing.T) {
	const lines = 200000
	lim := Limits{DataPages: DefaultMaxViewPages}
	p := NewParser(lim)
	p.Write([]byte("0-1048575\n"))
	text := []byte("remap 0 1048576 0\nremap 1 1048575 0\n")
	for range lines / 2 {
		if _, err := p.Write(text); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	if m.HeapAlloc > 64<<20 {
		t.Errorf("heap is %d MiB after %d remap lines", m.HeapAlloc>>20, lines)
	}
	l, err := p.Finish()
	if err != nil {
		t.Fatal(err)
	}
	want := []run.Run{{View: 0, File: 0, Count: 1}, {View: 1, File: 0, Count: 1048575}}
	if fmt.Sprint(l.Runs) != fmt.Sprint(want) {
		t.Errorf("runs = %v, want %v", l.Runs, want)
	}

	// Once a remap line runs past the maximum view the text cannot succeed, and later lines, even
	// ever longer ones, must cost nothing.
	p = NewParser(Limits{DataPages: 1 << 40})
	text2 := []byte("0\n")
	for i := range 100000 {
		text2 = fmt.Appendf(text2, "remap 0 %d 0\n", 2000000+i)
	}
	if n := allocated(func() { p.Write(text2) }); n > 1<<16 {
		t.Errorf("remap lines past the maximum view allocated %d bytes", n)
	}
	if _, err := p.Finish(); err == nil || !strings.Contains(err.Error(), "line 2, column 1: remap of view pages 0-1999999") {
		t.Errorf("Finish = %v, want the first remap line's error", err)
	}
}
