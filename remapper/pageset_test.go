package remapper

import (
	"math/rand/v2"
	"testing"
)

func TestPageSet(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var s pageSet
	model := map[int64]bool{}
	const n = 700
	for step := range 2000 {
		a := rng.Int64N(n)
		b := a + rng.Int64N(n-a+1)
		switch rng.IntN(5) {
		case 0:
			s.removeFrom(a)
			for p := a; p < n; p++ {
				delete(model, p)
			}
		default:
			s.add(a, b)
			for p := a; p < b; p++ {
				model[p] = true
			}
		}
		for p := int64(0); p < n+70; p++ {
			if s.has(p) != model[p] {
				t.Fatalf("step %d: has(%d) = %v", step, p, s.has(p))
			}
		}
		if s.count() != int64(len(model)) {
			t.Fatalf("step %d: count %d, want %d", step, s.count(), len(model))
		}
		from := rng.Int64N(n + 10)
		to := from + rng.Int64N(n+10-from+1)
		if from < to {
			end, in := s.span(from, to)
			want := from
			for want < to && model[want] == model[from] {
				want++
			}
			if in != model[from] || end != want {
				t.Fatalf("step %d: span(%d, %d) = %d, %v; want %d, %v", step, from, to, end, in, want, model[from])
			}
			all := true
			for p := from; p < to; p++ {
				all = all && model[p]
			}
			if s.all(from, to) != all {
				t.Fatalf("step %d: all(%d, %d) = %v", step, from, to, !all)
			}
		}
	}
}
