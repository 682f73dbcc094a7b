package layout

import (
	"math/rand/v2"
	"testing"
)

func benchmarkParse(b *testing.B, text []byte, lim Limits) {
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(text, lim); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseShuffle parses the largest default view with (almost) one run per page.
func BenchmarkParseShuffle(b *testing.B) {
	runs, err := Generate("shuffle", []int64{DefaultMaxViewPages, 1})
	if err != nil {
		b.Fatal(err)
	}
	benchmarkParse(b, []byte(Canonical(runs)), Limits{DataPages: DefaultMaxViewPages})
}

// BenchmarkParseRandom parses 60,000 random single pages, about the VMA budget of a mount.
func BenchmarkParseRandom(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	pages := make([]int64, 60000)
	for i := range pages {
		pages[i] = r.Int64N(DefaultMaxViewPages)
	}
	benchmarkParse(b, AppendCanonical(nil, Compile(pages)), Limits{DataPages: DefaultMaxViewPages})
}

func BenchmarkCanonical(b *testing.B) {
	runs, err := Generate("shuffle", []int64{DefaultMaxViewPages, 1})
	if err != nil {
		b.Fatal(err)
	}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendCanonical(buf[:0], runs)
	}
	b.SetBytes(int64(len(buf)))
}
