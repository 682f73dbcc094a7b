package layout

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/nlfs/nlfs/run"
)

// randomPages returns a page sequence shaped like real layouts: ascending and descending
// stretches, repeats and jumps, over store pages 0..data-1.
func randomPages(r *rand.Rand, data int64) []int64 {
	var pages []int64
	for range r.IntN(12) + 1 {
		f := r.Int64N(data)
		step := []int64{-1, 0, 1, 1}[r.IntN(4)]
		for range r.IntN(6) + 1 {
			if f < 0 || f >= data {
				break
			}
			pages = append(pages, f)
			f += step
		}
	}
	return pages
}

// TestCanonicalRoundTrip checks that the canonical text of any view parses back to that view, that
// canonical text is a fixed point, and that it is canonical: one line of single-spaced entries, no
// entry that could be longer (a range that the next page continues) and no two equal entries side
// by side (they fold into "*K").
func TestCanonicalRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	lim := Limits{DataPages: 20}
	for range 20000 {
		pages := randomPages(r, lim.DataPages)
		runs := Compile(pages)
		text := Canonical(runs)
		l, err := Parse([]byte(text), lim)
		if err != nil {
			t.Fatalf("Parse(Canonical(%v) = %q): %v", pages, text, err)
		}
		if got := run.Pages(l.Runs); !slices.Equal(got, pages) {
			t.Fatalf("Parse(Canonical(%v) = %q) = %v", pages, text, got)
		}
		if again := Canonical(l.Runs); again != text {
			t.Fatalf("Canonical is not a fixed point: %q then %q", text, again)
		}
		if strings.Contains(text, "  ") || !strings.HasSuffix(text, "\n") || strings.Count(text, "\n") != 1 {
			t.Fatalf("Canonical(%v) = %q is not one line of single-spaced entries", pages, text)
		}
		entries := strings.Fields(text)
		for i := 1; i < len(entries); i++ {
			a, _, _ := strings.Cut(entries[i-1], "*")
			b, _, _ := strings.Cut(entries[i], "*")
			if a == b {
				t.Fatalf("Canonical(%v) = %q leaves %q and %q unfolded", pages, text, entries[i-1], entries[i])
			}
		}
	}
}

// TestCompileRoundTrip checks Compile against Pages and that its runs are maximal.
func TestCompileRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		pages := randomPages(r, 20)
		runs := Compile(pages)
		checkRuns(t, runs, int64(len(pages)))
		if got := run.Pages(runs); !slices.Equal(got, pages) {
			t.Fatalf("Pages(Compile(%v)) = %v", pages, got)
		}
	}
	if Compile(nil) != nil || len(run.Pages(nil)) != 0 {
		t.Error("Compile(nil) or Pages(nil) is not empty")
	}
}

// randomText returns a layout text drawn from the language's pieces, valid or not.
func randomText(r *rand.Rand) string {
	pieces := []string{"0", "1", "2", "3", "5", "7", "8", "0x3", "9", "15", "16", "0-3", "3-0", "7-5", "2*3",
		"1-2*2", "3-1*2", "0*0", "remap", "x", "-", "*", "#c", "\n", "\n", " ", " ", ",", "\t", "\r\n"}
	var b strings.Builder
	for range r.IntN(20) {
		if r.IntN(4) == 0 {
			fmt.Fprintf(&b, "\nremap %d %d %d\n", r.IntN(10), r.IntN(5), r.IntN(10))
			continue
		}
		b.WriteString(pieces[r.IntN(len(pieces))])
		b.WriteString(" ")
	}
	return b.String()
}

// TestParseMatchesReference checks Parse against the naive reading on random texts.
func TestParseMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 50000 {
		text := randomText(r)
		lim := Limits{DataPages: r.Int64N(17), MaxViewPages: 1 + r.Int64N(30)}
		compareWithReference(t, []byte(text), lim)
	}
}

// compareWithReference checks that Parse accepts exactly what refParse accepts, with the same pages.
func compareWithReference(t *testing.T, src []byte, lim Limits) {
	t.Helper()
	l, err := Parse(src, lim)
	want, identity, ok := refParse(string(src), lim)
	switch {
	case (err == nil) != ok:
		t.Fatalf("Parse(%q, %+v) = %v, but the reference says valid = %v", src, lim, err, ok)
	case err != nil:
	case l.Identity != identity:
		t.Fatalf("Parse(%q, %+v).Identity = %v, reference %v", src, lim, l.Identity, identity)
	case !slices.Equal(run.Pages(l.Runs), want):
		t.Fatalf("Parse(%q, %+v) = %v, reference %v", src, lim, run.Pages(l.Runs), want)
	}
}

// TestRemapsMatchReference checks that batched remap painting gives what applying remap lines one
// by one gives, with enough lines to paint several batches.
func TestRemapsMatchReference(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for range 20 {
		const view = 3000
		var b strings.Builder
		if r.IntN(2) == 0 {
			fmt.Fprintf(&b, "%d-0\n", view-1)
		}
		for range r.IntN(5000) {
			n := 1 + r.Int64N(1+r.Int64N(view))
			fmt.Fprintf(&b, "remap %d %d %d\n", r.Int64N(view-n+1), n, r.Int64N(view-n+1))
		}
		compareWithReference(t, []byte(b.String()), Limits{DataPages: view})
	}
}
