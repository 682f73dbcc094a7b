package layout

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/nlfs/nlfs/run"
)

// generator makes the runs of an n-page view from its further arguments, already counted.
type generator struct {
	name   string
	params []string // after N
	runs   func(n int64, args []int64) ([]run.Run, error)
}

var generators = []generator{
	{"identity", nil, func(n int64, _ []int64) ([]run.Run, error) { return run.Identity(n), nil }},
	{"reverse", nil, func(n int64, _ []int64) ([]run.Run, error) {
		return generate(n, func(i int64) int64 { return n - 1 - i }), nil
	}},
	{"rotate", []string{"K"}, func(n int64, args []int64) ([]run.Run, error) {
		k := args[0]
		if k < 0 || k >= max(n, 1) {
			return nil, fmt.Errorf("rotate: K must be from 0 to N-1, got %d", k)
		}
		return generate(n, func(i int64) int64 { return (i + k) % n }), nil
	}},
	{"interleave", []string{"K"}, func(n int64, args []int64) ([]run.Run, error) {
		k := args[0]
		if k < 1 {
			return nil, fmt.Errorf("interleave: K must be at least 1, got %d", k)
		}
		pages := make([]int64, 0, n)
		for start := range min(k, n) {
			for f := start; f < n; f += k {
				pages = append(pages, f)
			}
		}
		return Compile(pages), nil
	}},
	{"shuffle", []string{"SEED"}, func(n int64, args []int64) ([]run.Run, error) {
		seed := uint64(args[0])
		r := rand.New(rand.NewPCG(seed, seed))
		pages := make([]int64, n)
		for i := range pages {
			pages[i] = int64(i)
		}
		for i := n - 1; i > 0; i-- {
			j := r.Int64N(i + 1)
			pages[i], pages[j] = pages[j], pages[i]
		}
		return Compile(pages), nil
	}},
}

// generate returns the runs of the n-page view whose page i shows store page f(i).
func generate(n int64, f func(i int64) int64) []run.Run {
	pages := make([]int64, n)
	for i := range pages {
		pages[i] = f(int64(i))
	}
	return Compile(pages)
}

func (g generator) usage() string {
	return strings.Join(append([]string{g.name, "N"}, g.params...), " ")
}

// Generate returns the runs of a generated n-page view, for `nlfs layout gen`:
// "identity N", "reverse N", "rotate N K" (view page i shows (i+K) mod N),
// "interleave N K" (stride K: pages 0, K, 2K, ..., then 1, 1+K, ..., every page once; K >= 1),
// "shuffle N SEED" (deterministic Fisher-Yates with math/rand/v2 PCG(SEED, SEED)).
// It returns an error for an unknown name, a wrong number of arguments, N outside
// 0..DefaultMaxViewPages, or K out of range.
func Generate(name string, args []int64) ([]run.Run, error) {
	for _, g := range generators {
		if g.name != name {
			continue
		}
		if len(args) != 1+len(g.params) {
			return nil, fmt.Errorf("wrong number of arguments for %s (want: %s)", name, g.usage())
		}
		if n := args[0]; n < 0 || n > DefaultMaxViewPages {
			return nil, fmt.Errorf("%s: N must be from 0 to %d, got %d", name, DefaultMaxViewPages, n)
		}
		return g.runs(args[0], args[1:])
	}
	return nil, fmt.Errorf("unknown generator %q (one of: %s)", name, strings.Join(GeneratorNames(), ", "))
}

// GeneratorNames lists the generators with their argument names, for help text, e.g. "rotate N K".
func GeneratorNames() []string {
	names := make([]string, len(generators))
	for i, g := range generators {
		names[i] = g.usage()
	}
	return names
}
