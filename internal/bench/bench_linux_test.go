package bench

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nlfs/nlfs/layout"
	"github.com/nlfs/nlfs/remapper"

	"github.com/nlfs/nlfs/run"
)

// The layout of the read benchmark in scripts/bench.sh: on a 1 GiB store,
// randomSingles single-page runs at random store pages, then one long run
// over the rest of the view.
const (
	storePages    = 1 << 18 // 1 GiB of 4 KiB pages
	randomSingles = 60000
)

// randomPlusRun returns the text of that layout: randomSingles pages drawn
// from the store so that no two neighbours continue each other (each is a
// run of its own), then the range randomSingles..storePages-1.
func randomPlusRun(seed uint64) string {
	rng := rand.New(rand.NewPCG(seed, 0))
	var b strings.Builder
	prev := int64(-2)
	for range randomSingles {
		p := rng.Int64N(storePages)
		for p == prev+1 || p == randomSingles { // a run of its own, not continued by the long run
			p = rng.Int64N(storePages)
		}
		fmt.Fprintf(&b, "%d ", p)
		prev = p
	}
	fmt.Fprintf(&b, "%d-%d\n", randomSingles, storePages-1)
	return b.String()
}

func parsed(b *testing.B, text string) *layout.Layout {
	l, err := layout.Parse([]byte(text), layout.Limits{DataPages: storePages})
	if err != nil {
		b.Fatal(err)
	}
	if len(l.Runs) != randomSingles+1 {
		b.Fatalf("%d runs, want %d", len(l.Runs), randomSingles+1)
	}
	return l
}

func toRuns(in []run.Run) []run.Run {
	out := make([]run.Run, len(in))
	for i, r := range in {
		out[i] = run.Run(r)
	}
	return out
}

// BenchmarkParse60k parses and compiles the layout text (about 400 kB) to runs.
func BenchmarkParse60k(b *testing.B) {
	text := randomPlusRun(1)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		parsed(b, text)
	}
}

// BenchmarkApply60k applies the layout with the remap backend, from the
// identity view (a layout of 60,001 runs does not fit the VMA budget beside
// another one), over a sparse store that is never touched. Restoring the
// identity between iterations is not timed.
func BenchmarkApply60k(b *testing.B) {
	s, v, err := newStoreView(remapper.Options{Backend: remapper.Remap})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.Truncate(storePages * remapper.PageSize()); err != nil {
		b.Fatal(err)
	}
	runs := toRuns(parsed(b, randomPlusRun(1)).Runs)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := v.Apply(runs); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if st := v.Status(); st.Backend != remapper.Remap || st.VMAs != int64(len(runs)) {
			b.Fatalf("status %+v", st)
		}
		if err := v.ApplyIdentity(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// bareStore is a sparse 1 GiB memfd for the bare loop.
func bareStore(b *testing.B) int {
	fd, err := unix.MemfdCreate("bench", unix.MFD_CLOEXEC)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { unix.Close(fd) })
	if err := unix.Ftruncate(fd, storePages*remapper.PageSize()); err != nil {
		b.Fatal(err)
	}
	return fd
}

// bareRemap is the floor for applying runs: a fresh linear mapping of the
// store and one remap_file_pages call per run not already in place, with
// the flags the mapper uses (MAP_NONBLOCK: populate nothing). It returns
// the time taken; the unmapping after it is not timed.
func bareRemap(b *testing.B, fd int, runs []run.Run) time.Duration {
	ps := remapper.PageSize()
	length := uintptr(storePages * ps)
	start := time.Now()
	base, err := unix.MmapPtr(fd, 0, nil, length, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range runs {
		if r.File == r.View {
			continue
		}
		if err := remapper.RemapFilePages(uintptr(base)+uintptr(r.View*ps), uintptr(r.Count*ps), 0, uintptr(r.File), unix.MAP_NONBLOCK); err != nil {
			b.Fatal(err)
		}
	}
	took := time.Since(start)
	unix.MunmapPtr(base, length)
	return took
}

// BenchmarkBareRemap60k is the floor for BenchmarkApply60k.
func BenchmarkBareRemap60k(b *testing.B) {
	fd := bareStore(b)
	runs := parsed(b, randomPlusRun(1)).Runs
	var total time.Duration
	for b.Loop() {
		total += bareRemap(b, fd, runs)
	}
	b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "ns/op")
}

// BenchmarkPipeline60k measures, in each iteration and on the same layout,
// parsing and compiling its text, a bare remap_file_pages loop over its
// runs, and Mapper.Apply of its runs with the remap backend (the bare loop
// and Apply in alternating order, so that drift in a busy machine hits both
// alike). It reports the medians and their ratios: apply/bare (target
// ≤ 1.25) and parse/apply (target ≤ 0.1). Run it with -benchtime=Nx.
func BenchmarkPipeline60k(b *testing.B) {
	text := randomPlusRun(1)
	fd := bareStore(b)
	s, v, err := newStoreView(remapper.Options{Backend: remapper.Remap})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.Truncate(storePages * remapper.PageSize()); err != nil {
		b.Fatal(err)
	}
	apply := func(runs []run.Run) time.Duration {
		start := time.Now()
		if err := v.Apply(runs); err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		if st := v.Status(); st.Backend != remapper.Remap || st.VMAs != int64(len(runs)) {
			b.Fatalf("status %+v", st)
		}
		if err := v.ApplyIdentity(); err != nil {
			b.Fatal(err)
		}
		return took
	}
	var parse, bare, applied, ratio []float64
	i := 0
	for b.Loop() {
		start := time.Now()
		l := parsed(b, text)
		parse = append(parse, float64(time.Since(start).Nanoseconds()))
		runs := toRuns(l.Runs)
		var a, r time.Duration
		if i%2 == 0 {
			r, a = bareRemap(b, fd, l.Runs), apply(runs)
		} else {
			a, r = apply(runs), bareRemap(b, fd, l.Runs)
		}
		i++
		bare = append(bare, float64(r.Nanoseconds()))
		applied = append(applied, float64(a.Nanoseconds()))
		ratio = append(ratio, float64(a)/float64(r))
	}
	b.ReportMetric(median(parse)/1e6, "parse-ms")
	b.ReportMetric(median(bare)/1e6, "bare-ms")
	b.ReportMetric(median(applied)/1e6, "apply-ms")
	b.ReportMetric(median(ratio), "apply/bare")
	b.ReportMetric(median(parse)/median(applied), "parse/apply")
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// newStoreView makes a store with one view, as a mount has.
func newStoreView(opts remapper.Options) (*remapper.Store, *remapper.View, error) {
	s, err := remapper.NewStore(opts)
	if err != nil {
		return nil, nil, err
	}
	v, err := s.NewView()
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return s, v, nil
}
