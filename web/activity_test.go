package web

import (
	"math/rand/v2"
	"testing"

	"github.com/nlfs/nlfs/run"
)

// TestSpansCoverBounded: whatever is added, spans stay sorted, disjoint, non-adjacent and at
// most maxSpans, cover every page added, and are exact while few enough.
func TestSpansCoverBounded(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for round := 0; round < 2000; round++ {
		var p spans
		added := map[int64]bool{}
		exact := true
		for k := rng.IntN(40); k > 0; k-- {
			lo := rng.Int64N(200)
			hi := lo + rng.Int64N(12)
			p.add(lo, hi)
			for x := lo; x < hi; x++ {
				added[x] = true
			}
			if len(p) > maxSpans {
				t.Fatalf("%d spans, want at most %d: %v", len(p), maxSpans, p)
			}
			for i := range p {
				if p[i].Lo >= p[i].Hi || (i > 0 && p[i].Lo <= p[i-1].Hi) {
					t.Fatalf("spans not sorted, disjoint and apart: %v", p)
				}
			}
			for x := range added {
				if !p.covers(x) {
					t.Fatalf("page %d added but not covered by %v", x, p)
				}
			}
			if exact = exact && exactRuns(added) <= maxSpans; exact {
				for _, s := range p {
					for x := s.Lo; x < s.Hi; x++ {
						if !added[x] {
							t.Fatalf("page %d covered by %v but never added (%d runs fit)", x, p, exactRuns(added))
						}
					}
				}
			}
		}
	}
}

func (p spans) covers(x int64) bool {
	for _, s := range p {
		if x >= s.Lo && x < s.Hi {
			return true
		}
	}
	return false
}

func exactRuns(set map[int64]bool) int {
	n := 0
	for x := range set {
		if !set[x-1] {
			n++
		}
	}
	return n
}

// TestStoreBehind: the store pages behind view pages read are those the runs show there, and
// the walk stops at its budget, saying so.
func TestStoreBehind(t *testing.T) {
	runs := []run.Run{{View: 0, File: 10, Count: 4}, {View: 4, File: 2, Count: 2}, {View: 6, File: 40, Count: 1}}
	var st spans
	budget := 100
	var read spans
	read.add(3, 5) // view pages 3 (store 13) and 4 (store 2)
	read.add(6, 9) // view page 6 (store 40); 7 and 8 are past the view
	if partial := storeBehind(&st, runs, read, &budget); partial {
		t.Error("partial with budget to spare")
	}
	if want := (spans{{2, 3}, {13, 14}, {40, 41}}); len(st) != len(want) || st[0] != want[0] || st[1] != want[1] || st[2] != want[2] {
		t.Errorf("store behind %v: %v, want %v", read, st, want)
	}
	st, budget = nil, 1
	if partial := storeBehind(&st, runs, read, &budget); !partial || len(st) != 1 {
		t.Errorf("with a budget of one run: %v partial %v, want one span and partial", st, partial)
	}
}

// TestShowsInOrder: the store pages behind view pages are told in view order, as the layout
// language writes them (a sorted set would read as if view page 1 showed store page 0), and
// briefly however many runs the pages cross.
func TestShowsInOrder(t *testing.T) {
	reversed := []run.Run{{View: 0, File: 2, Count: 1}, {View: 1, File: 1, Count: 1}, {View: 2, File: 0, Count: 1}}
	many := make([]run.Run, 100)
	for i := range many {
		many[i] = run.Run{View: int64(i), File: int64(99 - i), Count: 1}
	}
	for _, c := range []struct {
		name  string
		runs  []run.Run
		pages [][2]int64
		want  string
	}{
		{"one page", reversed, [][2]int64{{0, 1}}, "2"},
		{"the last two of 2 1 0", reversed, [][2]int64{{1, 3}}, "1-0"},
		{"two spans", reversed, [][2]int64{{0, 1}, {2, 3}}, "2 0"},
		{"a run in two spans", []run.Run{{View: 0, File: 10, Count: 8}}, [][2]int64{{1, 3}, {5, 6}}, "11-12 15"},
		{"a repeat", []run.Run{{View: 0, File: 4, Count: 1}, {View: 1, File: 4, Count: 1}}, [][2]int64{{0, 2}}, "4*2"},
		{"very many runs", many, [][2]int64{{0, 100}}, "99-92 …"},
	} {
		var p spans
		for _, x := range c.pages {
			p.add(x[0], x[1])
		}
		if got := showsInOrder(c.runs, p); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
