package layout

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nlfs/nlfs/run"
)

func TestSteps(t *testing.T) {
	ltp := ""
	for p := range 4 {
		ltp += fmt.Sprintf("remap %d 1 %d\n", p, p^1)
	}
	cases := []struct {
		name, text string
		data       int64
		want       []string // canonical text of each step's view
		lines      []int    // line of each call
	}{
		// A page list has no calls of its own: its steps are the calls that build it.
		{"page list only", "2 1 0\n", 3, []string{"0-2\n", "2-1 2\n", "2-0\n"}, []int{0, 0}},
		{"page list in place", "0-2\n", 3, []string{"0-2\n"}, nil},
		{"identity", "# nothing\n", 4, []string{"0-3\n"}, nil},
		{"ltp pairs", ltp, 4, []string{"0-3\n", "1 1-3\n", "1-0 2-3\n", "1-0 3*2\n", "1-0 3-2\n"}, []int{1, 2, 3, 4}},
		{"issue 11", "0-5\nremap 0 2 4\n", 6, []string{"0-5\n", "4-5 2-5\n"}, []int{2}},
		{"merge back", "0-5\nremap 0 2 4 # away\n\nremap 0x0, 02, 0\n", 6, []string{"0-5\n", "4-5 2-5\n", "0-5\n"}, []int{2, 4}},
		{"remap alone", "remap 1 1 0\n", 3, []string{"0-2\n", "0*2 2\n"}, []int{1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, steps, err := Steps([]byte(c.text), Limits{DataPages: c.data})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			var lines []int
			for i, s := range steps {
				got = append(got, Canonical(s.Runs))
				if i > 0 {
					lines = append(lines, s.Line)
				}
			}
			if !slices.Equal(got, c.want) || !slices.Equal(lines, c.lines) {
				t.Errorf("steps %q at lines %v, want %q at %v", got, lines, c.want, c.lines)
			}
			if !l.Identity && !slices.Equal(steps[len(steps)-1].Runs, l.Runs) {
				t.Errorf("last step %v is not the layout %v", steps[len(steps)-1].Runs, l.Runs)
			}
		})
	}
}

func TestStepsErrors(t *testing.T) {
	if _, _, err := Steps([]byte("0 1\nremap 1 2 0\n"), Limits{DataPages: 4}); err == nil ||
		err.Error() != "line 2, column 1: remap of view pages 1-2 runs past the end of the view (2 pages)" {
		t.Errorf("bad remap: %v", err)
	}
	text := strings.Repeat("remap 0 1 1\n", MaxSteps) + "  remap 0 1 0\n"
	var lerr *Error
	if _, _, err := Steps([]byte(text), Limits{DataPages: 2}); !errors.As(err, &lerr) || lerr.Line != MaxSteps+1 || lerr.Column != 3 {
		t.Errorf("too many steps: %v", err)
	}
	if _, steps, err := Steps([]byte(text[:len(text)-len("  remap 0 1 0\n")]), Limits{DataPages: 2}); err != nil || len(steps) != MaxSteps+1 {
		t.Errorf("MaxSteps remap lines: %d steps, %v", len(steps), err)
	}
}

// TestStepsMatchParse: for random layouts the last step is what Parse makes of the text, every step
// is maximal and contiguous, and each step differs from the one before only inside its call.
func TestStepsMatchParse(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for range 3000 {
		const data = 12
		var b strings.Builder
		if r.IntN(3) > 0 {
			for _, p := range randomPages(r, data) {
				fmt.Fprintf(&b, "%d ", p)
			}
			b.WriteString("\n")
		}
		l0, err := Parse([]byte(b.String()), Limits{DataPages: data})
		if err != nil {
			t.Fatal(err)
		}
		view := int64(data)
		if !l0.Identity {
			view = l0.Pages
		}
		for range r.IntN(8) {
			n := 1 + r.Int64N(min(view, data))
			fmt.Fprintf(&b, "remap %d %d %d\n", r.Int64N(view-n+1), n, r.Int64N(data-n+1))
		}
		l, steps, err := Steps([]byte(b.String()), Limits{DataPages: data})
		if err != nil {
			t.Fatalf("%q: %v", b.String(), err)
		}
		if !l.Identity && !slices.Equal(steps[len(steps)-1].Runs, l.Runs) {
			t.Fatalf("%q: last step %v, Parse %v", b.String(), steps[len(steps)-1].Runs, l.Runs)
		}
		for i, s := range steps {
			if !slices.Equal(s.Runs, Compile(run.Pages(s.Runs))) {
				t.Fatalf("%q: step %d is not maximal runs: %v", b.String(), i, s.Runs)
			}
			if i == 0 {
				continue
			}
			before, after := run.Pages(steps[i-1].Runs), run.Pages(s.Runs)
			for v := range after {
				inCall := int64(v) >= s.View && int64(v) < s.View+s.Count
				if inCall && after[v] != s.File+int64(v)-s.View || !inCall && after[v] != before[v] {
					t.Fatalf("%q: step %d view page %d: %d, was %d", b.String(), i, v, after[v], before[v])
				}
			}
		}
	}
}

func TestRemapOnly(t *testing.T) {
	for text, want := range map[string]bool{
		"remap 0 1 1\n# c\n\nremap 1 1 0": true,
		"0-3\nremap 0 1 1\n":              false,
		"remap 0 1 1\n2":                  false,
		"# remap 0 1 1\n":                 false,
		"remap 0x0,1,\t0x1 # c\r\n":       true,
		"":                                false,
	} {
		if got := RemapOnly([]byte(text), Limits{DataPages: 1 << 40}); got != want {
			t.Errorf("RemapOnly(%q) = %v", text, got)
		}
	}
}

// TestStepsReadAsParserDoes: the step drawings read each remap line's numbers as the parser does,
// whatever way the text writes them (hex, leading zeros, commas, tabs, carriage returns, comments
// after the numbers): the calls are the ones written, and the last step is Parse's view.
func TestStepsReadAsParserDoes(t *testing.T) {
	cases := []struct {
		text  string
		calls [][3]int64 // VIEWPAGE NPAGES PGOFF of each call
		lines []int
	}{
		{"0-0x1f\nremap 0x10 0x2 0x1e\n", [][3]int64{{16, 2, 30}}, []int{2}},
		{"0-31\nremap 0X1A,0x2,0XA\n", [][3]int64{{26, 2, 10}}, []int{2}},
		{"0-31\nremap 010 02 020\n", [][3]int64{{10, 2, 20}}, []int{2}},
		{"0-31\nremap\t3,\t1,\t7 # remap 0 1 0\r\n", [][3]int64{{3, 1, 7}}, []int{2}},
		{"0-31 # remap 1 1 1\n  remap 4 4 0x8,\n#remap 9 9 9\nremap 0 1 31#c\n", [][3]int64{{4, 4, 8}, {0, 1, 31}}, []int{2, 4}},
		{"remap 1 1 0\r\nremap 0x1F 1 0\r\n", [][3]int64{{1, 1, 0}, {31, 1, 0}}, []int{1, 2}},
	}
	for _, c := range cases {
		lim := Limits{DataPages: 32}
		l, steps, err := Steps([]byte(c.text), lim)
		if err != nil {
			t.Fatalf("%q: %v", c.text, err)
		}
		var calls [][3]int64
		var lines []int
		for _, s := range steps[1:] {
			calls = append(calls, [3]int64{s.View, s.Count, s.File})
			lines = append(lines, s.Line)
		}
		if !slices.Equal(calls, c.calls) || !slices.Equal(lines, c.lines) {
			t.Errorf("%q: calls %v at lines %v, want %v at %v", c.text, calls, lines, c.calls, c.lines)
		}
		p, err := Parse([]byte(c.text), lim)
		if err != nil {
			t.Fatalf("%q: Parse: %v", c.text, err)
		}
		if last := steps[len(steps)-1].Runs; !slices.Equal(last, p.Runs) || !slices.Equal(l.Runs, p.Runs) {
			t.Errorf("%q: last step %v, Parse %v", c.text, last, p.Runs)
		}
	}
}

// TestStepsAnySpelling: the same calls spelt any way the language allows give the same steps as
// spelt plainly (a property over random spellings).
func TestStepsAnySpelling(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	num := func(n int64) string {
		switch r.IntN(4) {
		case 0:
			return fmt.Sprintf("0x%x", n)
		case 1:
			return fmt.Sprintf("0X%X", n)
		case 2:
			return "0" + strconv.FormatInt(n, 10)
		}
		return strconv.FormatInt(n, 10)
	}
	seps := []string{" ", ",", "\t", " , ", "\r"}
	sep := func() string { return seps[r.IntN(len(seps))] }
	for range 2000 {
		const data = 16
		var plain, spelt strings.Builder
		plain.WriteString("15-0\n")
		spelt.WriteString("0xf-0 # the page list\n")
		for range 1 + r.IntN(6) {
			n := 1 + r.Int64N(data)
			v, f := r.Int64N(data-n+1), r.Int64N(data-n+1)
			fmt.Fprintf(&plain, "remap %d %d %d\n", v, n, f)
			fmt.Fprintf(&spelt, "%sremap%s%s%s%s%s%s", sep(), sep(), num(v), sep(), num(n), sep(), num(f))
			if r.IntN(2) == 0 {
				spelt.WriteString(" # remap 0 1 0")
			}
			spelt.WriteString([]string{"\n", "\r\n"}[r.IntN(2)])
		}
		_, want, err := Steps([]byte(plain.String()), Limits{DataPages: data})
		if err != nil {
			t.Fatalf("%q: %v", plain.String(), err)
		}
		_, got, err := Steps([]byte(spelt.String()), Limits{DataPages: data})
		if err != nil {
			t.Fatalf("%q: %v", spelt.String(), err)
		}
		if len(got) != len(want) {
			t.Fatalf("%q: %d steps, plainly %d", spelt.String(), len(got), len(want))
		}
		for i := range want {
			g, w := got[i], want[i]
			if g.View != w.View || g.Count != w.Count || g.File != w.File || !slices.Equal(g.Runs, w.Runs) {
				t.Fatalf("%q: step %d is %+v, plainly %+v", spelt.String(), i, g, w)
			}
		}
	}
}

// TestBuildSteps: the calls that build a layout end in exactly its runs, one call per run not
// already in place, each leaving the VMAs RemapRuns says (property, over random page lists).
func TestBuildSteps(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		n := 1 + rng.IntN(40)
		data := 1 + rng.IntN(12)
		pages := make([]int64, n)
		for i := range pages {
			switch rng.IntN(3) {
			case 0:
				pages[i] = int64(i % data) // often in place
			default:
				pages[i] = int64(rng.IntN(data))
			}
		}
		runs := Compile(pages)
		steps, err := BuildSteps(runs)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(steps[0].Runs, run.Identity(int64(n))) {
			t.Fatalf("%v: starts from %v, want the store in order", pages, steps[0].Runs)
		}
		if last := steps[len(steps)-1].Runs; !slices.Equal(last, runs) {
			t.Fatalf("%v: the calls end in %v, want %v", pages, last, runs)
		}
		out := 0
		for _, r := range runs {
			if r.File != r.View {
				out++
			}
		}
		if len(steps)-1 != out {
			t.Fatalf("%v: %d calls for %d runs not in place", pages, len(steps)-1, out)
		}
		for i, st := range steps[1:] {
			if want := RemapRuns(steps[i].Runs, st.View, st.Count, st.File); !slices.Equal(st.Runs, want) {
				t.Fatalf("%v: step %d leaves %v, want %v", pages, i+1, st.Runs, want)
			}
		}
	}
	// Past MaxSteps calls, one line says so.
	many, err := Generate("reverse", []int64{300})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := BuildSteps(many); err == nil || err.Error() != "the layout takes 300 remap calls; at most 256 are drawn one by one" {
		t.Errorf("BuildSteps of 300 calls: %v", err)
	}
}
