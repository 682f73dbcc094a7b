package layout

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/nlfs/nlfs/run"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestGenerateGolden pins the canonical text of a few generated layouts, so that a change in a
// generator (or in the random stream behind shuffle) shows up as a diff.
func TestGenerateGolden(t *testing.T) {
	tests := []struct {
		name string
		args []int64
	}{
		{"identity", []int64{16}},
		{"reverse", []int64{16}},
		{"rotate", []int64{16, 5}},
		{"interleave", []int64{16, 4}},
		{"interleave", []int64{10, 3}},
		{"shuffle", []int64{16, 1}},
		{"shuffle", []int64{64, 42}},
		{"shuffle", []int64{8, 2}},
		{"shuffle", []int64{8, 3}},
		{"shuffle", []int64{8, 4}},
	}
	for _, tc := range tests {
		runs, err := Generate(tc.name, tc.args)
		if err != nil {
			t.Fatalf("Generate(%s %v): %v", tc.name, tc.args, err)
		}
		got := Canonical(runs)
		file := tc.name
		for _, a := range tc.args {
			file += "-" + strconv.FormatInt(a, 10)
		}
		file = filepath.Join("testdata", file+".golden")
		if *update {
			if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("%v (run go test -update to create it)", err)
		}
		if got != string(want) {
			t.Errorf("Generate(%s %v) = %q, want %q (from %s)", tc.name, tc.args, got, want, file)
		}
	}
}

// TestGenerate checks each generator against its definition and that it makes a permutation.
func TestGenerate(t *testing.T) {
	tests := []struct {
		name string
		args []int64
		page func(n, i int64) int64 // nil: any permutation
	}{
		{"identity", []int64{0}, nil},
		{"identity", []int64{100}, func(_, i int64) int64 { return i }},
		{"reverse", []int64{100}, func(n, i int64) int64 { return n - 1 - i }},
		{"rotate", []int64{100, 0}, func(_, i int64) int64 { return i }},
		{"rotate", []int64{100, 37}, func(n, i int64) int64 { return (i + 37) % n }},
		{"rotate", []int64{0, 0}, nil},
		{"interleave", []int64{10, 3}, func(_, i int64) int64 { return []int64{0, 3, 6, 9, 1, 4, 7, 2, 5, 8}[i] }},
		{"interleave", []int64{10, 1}, func(_, i int64) int64 { return i }},
		{"interleave", []int64{10, 1 << 62}, func(_, i int64) int64 { return i }},
		{"shuffle", []int64{1000, 7}, nil},
		{"shuffle", []int64{1000, -7}, nil},
		{"shuffle", []int64{DefaultMaxViewPages, 1}, nil},
	}
	for _, tc := range tests {
		runs, err := Generate(tc.name, tc.args)
		if err != nil {
			t.Fatalf("Generate(%s %v): %v", tc.name, tc.args, err)
		}
		n := tc.args[0]
		checkRuns(t, runs, n)
		pages := run.Pages(runs)
		if tc.page != nil {
			for i, f := range pages {
				if want := tc.page(n, int64(i)); f != want {
					t.Fatalf("Generate(%s %v): view page %d shows %d, want %d", tc.name, tc.args, i, f, want)
				}
			}
		}
		slices.Sort(pages)
		for i, f := range pages {
			if f != int64(i) {
				t.Fatalf("Generate(%s %v) is not a permutation of 0..%d", tc.name, tc.args, n-1)
			}
		}
	}
	a, _ := Generate("shuffle", []int64{1000, 7})
	b, _ := Generate("shuffle", []int64{1000, 8})
	if slices.Equal(a, b) {
		t.Error("shuffle with seeds 7 and 8 gave the same view")
	}
}

func TestGenerateErrors(t *testing.T) {
	tests := []struct {
		name string
		args []int64
		want string
	}{
		{"mirror", []int64{4}, `unknown generator "mirror" (one of: identity N, reverse N, rotate N K, interleave N K, shuffle N SEED)`},
		{"rotate", []int64{4}, "wrong number of arguments for rotate (want: rotate N K)"},
		{"identity", nil, "wrong number of arguments for identity (want: identity N)"},
		{"reverse", []int64{-1}, "reverse: N must be from 0 to 1048576, got -1"},
		{"shuffle", []int64{DefaultMaxViewPages + 1, 1}, "shuffle: N must be from 0 to 1048576, got 1048577"},
		{"rotate", []int64{4, 4}, "rotate: K must be from 0 to N-1, got 4"},
		{"rotate", []int64{4, -1}, "rotate: K must be from 0 to N-1, got -1"},
		{"rotate", []int64{0, 1}, "rotate: K must be from 0 to N-1, got 1"},
		{"interleave", []int64{4, 0}, "interleave: K must be at least 1, got 0"},
	}
	for _, tc := range tests {
		_, err := Generate(tc.name, tc.args)
		if err == nil || err.Error() != tc.want {
			t.Errorf("Generate(%s %v) = %v, want %q", tc.name, tc.args, err, tc.want)
		}
	}
}

func TestGeneratorNames(t *testing.T) {
	want := []string{"identity N", "reverse N", "rotate N K", "interleave N K", "shuffle N SEED"}
	if got := GeneratorNames(); !slices.Equal(got, want) {
		t.Errorf("GeneratorNames() = %q, want %q", got, want)
	}
}
