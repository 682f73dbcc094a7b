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
