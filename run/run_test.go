package run

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestIdentityAndPages(t *testing.T) {
	if got := Identity(0); got != nil {
		t.Errorf("Identity(0) = %v, want nil", got)
	}
	runs := []Run{{View: 0, File: 5, Count: 2}, {View: 2, File: 0, Count: 1}}
	if got, want := Pages(runs), []int64{5, 6, 0}; !slices.Equal(got, want) {
		t.Errorf("Pages = %v, want %v", got, want)
	}
	if got := ViewPages(runs); got != 3 {
		t.Errorf("ViewPages = %d, want 3", got)
	}
}

// TestIndexMatchesBruteForce: for random views (with aliases and repeats) and random store
// ranges, Index.Views finds exactly the view pages that show a store page in the range.
func TestIndexMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 500; round++ {
		store := 1 + rng.Int64N(40)
		var pages []int64
		for n := rng.IntN(60); len(pages) < n; {
			start, length := rng.Int64N(store), 1+rng.Int64N(8)
			for i := int64(0); i < length && start+i < store; i++ {
				pages = append(pages, start+i)
			}
		}
		runs := compile(pages)
		x := NewIndex(runs)
		for q := 0; q < 20; q++ {
			lo := rng.Int64N(store + 2)
			hi := lo + rng.Int64N(store+2)
			got := make([]bool, len(pages))
			x.Views(lo, hi, func(view, count int64) {
				for v := view; v < view+count; v++ {
					if got[v] {
						t.Fatalf("view page %d reported twice for [%d,%d) in %v", v, lo, hi, pages)
					}
					got[v] = true
				}
			})
			for v, f := range pages {
				if want := f >= lo && f < hi; got[v] != want {
					t.Fatalf("view page %d (store %d) for [%d,%d): got %v, want %v (view %v)", v, f, lo, hi, got[v], want, pages)
				}
			}
		}
	}
}

// compile turns a page list into maximal runs.
func compile(pages []int64) []Run {
	var runs []Run
	for v, f := range pages {
		if n := len(runs); n > 0 && runs[n-1].File+runs[n-1].Count == f {
			runs[n-1].Count++
			continue
		}
		runs = append(runs, Run{View: int64(v), File: f, Count: 1})
	}
	return runs
}
