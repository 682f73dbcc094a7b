package fs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/nlfs/nlfs/layout"

	"github.com/nlfs/nlfs/engine"
)

// TestStress runs, for NLFS_STRESS_DURATION (default 10s), 8 readers of
// `view`, 2 writers that write whole pages through `data` and through
// `view`, a layout flipper and an observer of the generated files, all
// through one real mount; then it checks that no page read was ever torn or
// mixed, that `data` holds exactly what a model of the writes allows, and
// that the serving process's goroutines, descriptors, heap and mappings of
// the store did not grow.
//
// The model. The store has 63 pages. Writer w owns the store pages of
// parity w, and every layout the flipper writes maps each view page to a
// store page of the same parity (identity, the following identity, reverse
// — 62-v keeps parity since 63 is odd —, swaps within blocks of four,
// reversing only the even or only the odd pages, and an aliasing layout
// that shows pages 0 1 0 1 4 5 4 5 …). So each store page has exactly one
// writer, even through `view`, whatever layout is in force when a view
// write lands. Every page written describes itself: writer, sequence
// number (increasing per writer), whether it went through data or view, and
// the page number it was written at; all 512 words of the page derive from
// that tag, so a page made of two writes does not decode.
//
// A data write lands at the store page it names. A view write at view page
// v lands at L(v) for the layout L in force when the daemon served it,
// which the writer cannot know; but each layout change is done within a
// known interval [flip start, flip end] (the flipper is alone and
// sequential), and each write within its own interval, so the layouts that
// may have been in force during a write are known, hence its candidate
// store pages T(x). Invariant checked at the end, for every write x (and
// the initial content): some t in T(x) holds x or a later write of the
// same writer (final seq(t) >= seq(x)). A write that vanished, from the
// page it landed on with nothing newer there, breaks it. And every store
// page holds a write that could have landed there. Readers check each page
// decodes; for reads of at most 32 pages (one FUSE request, so one layout)
// the pages holding data writes must all agree with a single layout.
func TestStress(t *testing.T) {
	d := 10 * time.Second
	if s := os.Getenv("NLFS_STRESS_DURATION"); s != "" {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			t.Fatalf("NLFS_STRESS_DURATION=%q: %v", s, err)
		}
	}
	initial := make([]byte, stressPages*pageSize)
	for p := range int64(stressPages) {
		copy(initial[p*int64(pageSize):], encodeStressPage(stressTag{seq: 0, idx: p, writer: int(p % 2)}))
	}
	mnt, e := testMount(t, engine.Options{Source: bytes.NewReader(initial)})
	s := newStress(t, mnt)
	// A hang fails with every goroutine's stack, not at the test binary's
	// timeout (stress.sh runs without one). The mount's connection is
	// aborted first: a process that dies with files open on its own mount
	// would hang in exit, flushing them to itself.
	var dev unix.Stat_t
	if err := unix.Stat(mnt, &dev); err != nil {
		t.Fatal(err)
	}
	watchdog := time.AfterFunc(d+2*time.Minute+30*time.Second, func() {
		os.WriteFile(fmt.Sprintf("/sys/fs/fuse/connections/%d/abort", unix.Minor(dev.Dev)), []byte("1"), 0)
		debug.SetTraceback("all")
		panic(fmt.Sprintf("TestStress: still running %v after its %v: a hang", 2*time.Minute, d))
	})
	defer watchdog.Stop()
	s.setLayout(0) // pinned identity: the model's starting point

	warm := min(d/5, 2*time.Second)
	s.run(warm)
	s.setLayout(0)
	base := s.measure()
	s.run(d)
	s.setLayout(0)
	end := s.measure()

	s.checkModel(e)
	st := status(t, mnt)
	if st["last_error"] != "none" {
		t.Errorf("status last_error after the stress: %q", st["last_error"])
	}
	report := fmt.Sprintf("stress: %v (+%v warm-up), GOMAXPROCS %d: %d view reads (%d pages checked, %d single-layout reads), %d data writes, %d view writes, %d layouts applied, %d generated-file reads; writes lost: %d; goroutines %d -> %d, fds %d -> %d (+ pipes %d -> %d), heap %d -> %d KiB (not counting the model's %d KiB), store VMAs %d -> %d",
		d, warm, runtime.GOMAXPROCS(0), s.reads.Load(), s.pagesRead.Load(), s.oneLayoutReads.Load(),
		s.writesOf(kindData), s.writesOf(kindView), len(s.flips)-1, s.observed.Load(), s.lost,
		base.goroutines, end.goroutines, base.fds, end.fds, base.pipes, end.pipes, base.heap>>10, end.heap>>10, end.model>>10, base.storeVMAs, end.storeVMAs)
	t.Log(report)
	if end.goroutines > base.goroutines+10 {
		t.Errorf("goroutines grew from %d to %d", base.goroutines, end.goroutines)
	}
	if end.fds > base.fds {
		t.Errorf("descriptors (other than pipes) grew from %d to %d", base.fds, end.fds)
	}
	if end.pipes > base.pipes+4*(stressReaders+stressWriters+2) {
		t.Errorf("pipes grew from %d to %d: more than the requests that can be in flight at once", base.pipes, end.pipes)
	}
	if end.heap > base.heap+32<<20 && end.heap > base.heap*3/2 {
		t.Errorf("heap in use grew from %d to %d KiB", base.heap>>10, end.heap>>10)
	}
	if end.storeVMAs > base.storeVMAs {
		t.Errorf("mappings of the store grew from %d to %d", base.storeVMAs, end.storeVMAs)
	}
}

const (
	stressPages   = 63
	stressReaders = 8
	stressWriters = 2
	kindData      = 0
	kindView      = 1
	stressMagic   = 0x6e6c66732d737472 // "nlfs-str"
)

// stressTag is what a written page says of itself.
type stressTag struct {
	seq    int64 // per writer, from 1; 0 is the initial content
	idx    int64 // the store page (data write) or view page (view write) written at
	kind   int
	writer int
}

func (g stressTag) pack() uint64 {
	return uint64(g.seq)<<16 | uint64(g.idx)<<4 | uint64(g.kind)<<1 | uint64(g.writer)
}

func mix(x uint64) uint64 { // splitmix64's finalizer
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

func encodeStressPage(g stressTag) []byte {
	b := make([]byte, pageSize)
	tag := g.pack()
	binary.LittleEndian.PutUint64(b, tag^stressMagic)
	for i := 8; i < pageSize; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], mix(tag+uint64(i)))
	}
	return b
}

// decodeStressPage returns the tag of a whole page, or false for a page that
// is not one write (torn, mixed, zeros, garbage).
func decodeStressPage(b []byte) (stressTag, bool) {
	if len(b) != pageSize {
		return stressTag{}, false
	}
	tag := binary.LittleEndian.Uint64(b) ^ stressMagic
	for i := 8; i < pageSize; i += 8 {
		if binary.LittleEndian.Uint64(b[i:]) != mix(tag+uint64(i)) {
			return stressTag{}, false
		}
	}
	g := stressTag{seq: int64(tag >> 16), idx: int64(tag>>4) & 0xfff, kind: int(tag>>1) & 1, writer: int(tag & 1)}
	return g, g.idx < stressPages
}

// stressLayouts are the layouts the flipper writes, as page lists; each
// keeps the parity of every view page. The empty text (the identity that
// follows data, here of 63 pages) has the same pages as the first.
var stressLayouts = func() [][]int64 {
	gen := func(f func(v int64) int64) []int64 {
		p := make([]int64, stressPages)
		for v := range p {
			p[v] = f(int64(v))
		}
		return p
	}
	last := int64(stressPages - 1)
	return [][]int64{
		gen(func(v int64) int64 { return v }), // pinned identity
		gen(func(v int64) int64 { return v }), // empty text: the following identity
		gen(func(v int64) int64 { return last - v }),
		gen(func(v int64) int64 {
			if v < 60 {
				return v ^ 2
			}
			return v
		}),
		gen(func(v int64) int64 {
			if v%2 == 0 {
				return last - v
			}
			return v
		}),
		gen(func(v int64) int64 {
			if v%2 == 1 {
				return last - v
			}
			return v
		}),
		gen(func(v int64) int64 { return v - v%4 + v%2 }), // 0 1 0 1 4 5 4 5 …
	}
}()

func stressLayoutText(k int) []byte {
	if k == 1 {
		return nil
	}
	return []byte(layout.Canonical(layout.Compile(stressLayouts[k])))
}

type stressWrite struct {
	kind       int
	idx        int64
	start, end time.Time
}

type stressFlip struct {
	k          int
	start, end time.Time
}

type stress struct {
	t   *testing.T
	mnt string

	mu     sync.Mutex
	writes [stressWriters][]stressWrite // writes[w][seq-1]
	flips  []stressFlip
	failed atomic.Bool

	reads, pagesRead, oneLayoutReads, observed atomic.Int64
	lost                                       int
}

func newStress(t *testing.T, mnt string) *stress { return &stress{t: t, mnt: mnt} }

func (s *stress) fail(format string, args ...any) {
	s.t.Helper()
	if s.failed.CompareAndSwap(false, true) {
		s.t.Errorf(format, args...)
	}
}

func (s *stress) writesOf(kind int) int {
	n := 0
	for _, ws := range s.writes {
		for _, w := range ws {
			if w.kind == kind {
				n++
			}
		}
	}
	return n
}

// setLayout writes layout k and waits until it is in force; it records the
// interval in which the switch happened.
func (s *stress) setLayout(k int) {
	st := readState(s.t, s.mnt)
	gen := atoi(s.t, st.generation)
	start := time.Now()
	if err := writeLayout(s.mnt, stressLayoutText(k), nil); err != nil {
		s.fail("write layout %d: %v", k, err)
		return
	}
	for deadline := time.Now().Add(5 * time.Second); ; {
		st = readState(s.t, s.mnt)
		if atoi(s.t, st.generation) > gen {
			st = readState(s.t, s.mnt) // layout was read before generation
			break
		}
		if time.Now().After(deadline) {
			s.fail("layout %d not in force 5 s after its write", k)
			return
		}
		time.Sleep(100 * time.Microsecond)
	}
	end := time.Now()
	if want := layout.Canonical(layout.Compile(stressLayouts[k])); st.layout != want {
		s.fail("layout %d reads back %q, want %q", k, st.layout, want)
	}
	s.mu.Lock()
	s.flips = append(s.flips, stressFlip{k, start, end})
	s.mu.Unlock()
}

// run runs the workload for d.
func (s *stress) run(d time.Duration) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range stressReaders {
		wg.Go(func() { s.reader(i, stop) })
	}
	for w := range stressWriters {
		wg.Go(func() { s.writer(w, stop) })
	}
	wg.Go(func() { s.observer(stop) })
	wg.Go(func() {
		rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
		for !stopped(stop) && !s.failed.Load() {
			s.setLayout(rng.IntN(len(stressLayouts)))
		}
	})
	timer := time.NewTimer(d)
	select {
	case <-timer.C:
	case <-s.t.Context().Done():
	}
	close(stop)
	wg.Wait()
}

func stopped(stop chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

func (s *stress) reader(i int, stop chan struct{}) {
	f, err := os.Open(filepath.Join(s.mnt, "view"))
	if err != nil {
		s.fail("reader %d: %v", i, err)
		return
	}
	defer f.Close()
	rng := rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
	buf := make([]byte, 40*pageSize)
	for !stopped(stop) && !s.failed.Load() {
		first := rng.IntN(stressPages)
		n := 1 + rng.IntN(min(40, stressPages-first))
		k, err := f.ReadAt(buf[:n*pageSize], int64(first*pageSize))
		if err != nil || k != n*pageSize {
			s.fail("reader %d: read %d pages at view page %d: %d bytes, %v", i, n, first, k, err)
			return
		}
		s.reads.Add(1)
		var known [][2]int64 // view page, store page, from pages written through data
		for j := range n {
			g, ok := decodeStressPage(buf[j*pageSize : (j+1)*pageSize])
			if !ok {
				s.fail("reader %d: view page %d (read of %d pages at %d) is torn or mixed", i, first+j, n, first)
				return
			}
			if g.kind == kindData {
				known = append(known, [2]int64{int64(first + j), g.idx})
			}
		}
		s.pagesRead.Add(int64(n))
		if n <= 32 {
			s.oneLayoutReads.Add(1)
			if !fitsOneLayout(known) {
				s.fail("reader %d: a read of %d pages at view page %d mixes layouts: (view page, store page) %v", i, n, first, known)
				return
			}
		}
	}
}

func fitsOneLayout(known [][2]int64) bool {
	for _, pages := range stressLayouts {
		fits := true
		for _, vp := range known {
			if pages[vp[0]] != vp[1] {
				fits = false
				break
			}
		}
		if fits {
			return true
		}
	}
	return false
}

func (s *stress) writer(w int, stop chan struct{}) {
	files := [2]*os.File{}
	for kind, name := range []string{"data", "view"} {
		f, err := os.OpenFile(filepath.Join(s.mnt, name), os.O_RDWR, 0)
		if err != nil {
			s.fail("writer %d: %v", w, err)
			return
		}
		defer f.Close()
		files[kind] = f
	}
	rng := rand.New(rand.NewPCG(uint64(w)+100, uint64(time.Now().UnixNano())))
	for !stopped(stop) && !s.failed.Load() {
		kind := rng.IntN(2)
		idx := int64(2*rng.IntN((stressPages+1-w)/2) + w)
		s.mu.Lock()
		seq := int64(len(s.writes[w])) + 1
		s.mu.Unlock()
		page := encodeStressPage(stressTag{seq: seq, idx: idx, kind: kind, writer: w})
		start := time.Now()
		k, err := files[kind].WriteAt(page, idx*int64(pageSize))
		end := time.Now()
		if err != nil || k != pageSize {
			s.fail("writer %d: write %d to %s page %d: %d bytes, %v", w, seq, []string{"data", "view"}[kind], idx, k, err)
			return
		}
		s.mu.Lock()
		s.writes[w] = append(s.writes[w], stressWrite{kind, idx, start, end})
		s.mu.Unlock()
	}
}

func (s *stress) observer(stop chan struct{}) {
	for !stopped(stop) && !s.failed.Load() {
		for _, name := range []string{"status", "map", "vmas", "map.svg", "layout"} {
			b, err := os.ReadFile(filepath.Join(s.mnt, name))
			if err != nil || len(b) == 0 {
				s.fail("observer: read %s: %d bytes, %v", name, len(b), err)
				return
			}
			if name == "status" && !strings.Contains(string(b), "last_error: none\n") {
				s.fail("observer: status reports an error:\n%s", b)
				return
			}
			s.observed.Add(1)
		}
	}
}

// candidates returns the store pages write x of writer w may have landed on.
func (s *stress) candidates(x stressWrite) map[int64]bool {
	if x.kind == kindData {
		return map[int64]bool{x.idx: true}
	}
	out := map[int64]bool{}
	// Layout k may be in force from flips[k].start until flips[k+1].end.
	i := sort.Search(len(s.flips), func(k int) bool {
		return k == len(s.flips)-1 || !s.flips[k+1].end.Before(x.start)
	})
	for k := i; k < len(s.flips) && !s.flips[k].start.After(x.end); k++ {
		out[stressLayouts[s.flips[k].k][x.idx]] = true
	}
	return out
}

// checkModel reads data and checks it against the writes (see TestStress).
func (s *stress) checkModel(e *engine.Engine) {
	t := s.t
	data, err := os.ReadFile(filepath.Join(s.mnt, "data"))
	if err != nil || len(data) != stressPages*pageSize {
		t.Fatalf("read data: %d bytes, %v", len(data), err)
	}
	var final [stressPages]stressTag
	for p := range int64(stressPages) {
		g, ok := decodeStressPage(data[p*int64(pageSize) : (p+1)*int64(pageSize)])
		if !ok {
			t.Fatalf("store page %d is torn or mixed", p)
		}
		if g.writer != int(p%2) {
			t.Fatalf("store page %d holds a write of writer %d, which never writes there", p, g.writer)
		}
		final[p] = g
		if g.seq == 0 {
			if g.idx != p || g.kind != kindData {
				t.Fatalf("store page %d holds the initial content of page %d", p, g.idx)
			}
			continue
		}
		if g.seq > int64(len(s.writes[g.writer])) {
			t.Fatalf("store page %d holds write %d of writer %d, which made only %d", p, g.seq, g.writer, len(s.writes[g.writer]))
		}
		x := s.writes[g.writer][g.seq-1]
		if x.kind != g.kind || x.idx != g.idx {
			t.Fatalf("store page %d holds write %d of writer %d as %+v, but it was %+v", p, g.seq, g.writer, g, x)
		}
		if !s.candidates(x)[p] {
			t.Fatalf("store page %d holds write %d of writer %d (%s page %d), which could not land there", p, g.seq, g.writer, []string{"data", "view"}[x.kind], x.idx)
		}
	}
	// Every write, and the initial content, is still there or overwritten
	// by a later write of its writer on some page it may have landed on.
	for w, ws := range s.writes {
		for i, x := range ws {
			seq := int64(i + 1)
			kept := false
			for c := range s.candidates(x) {
				if final[c].seq >= seq {
					kept = true
					break
				}
			}
			if !kept {
				s.lost++
				if s.lost <= 5 {
					t.Errorf("write %d of writer %d (%s page %d, %v..%v) is lost: its candidate pages %v hold older writes",
						seq, w, []string{"data", "view"}[x.kind], x.idx, x.start.Format(time.StampMicro), x.end.Format(time.StampMicro), s.candidates(x))
				}
			}
		}
	}
	if got := e.DataSize(); got != stressPages*int64(pageSize) {
		t.Errorf("data size %d after the stress, want %d", got, stressPages*pageSize)
	}
}

// usage is what the serving process holds.
type usage struct {
	goroutines, fds, pipes, storeVMAs int
	heap, model                       uint64 // heap in use less the model's records, and those
}

func (s *stress) measure() usage {
	var u usage
	// Let the request goroutines of the last operations finish.
	prev := -1
	for i := 0; i < 100; i++ {
		runtime.GC()
		u.goroutines = runtime.NumGoroutine()
		if u.goroutines == prev {
			break
		}
		prev = u.goroutines
		time.Sleep(20 * time.Millisecond)
	}
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	// The model's records of every write live in this heap too (64 bytes a
	// write, 18 MiB for five minutes): they are not the daemon's.
	s.mu.Lock()
	u.model = uint64(cap(s.flips)) * uint64(unsafe.Sizeof(stressFlip{}))
	for _, ws := range s.writes {
		u.model += uint64(cap(ws)) * uint64(unsafe.Sizeof(stressWrite{}))
	}
	s.mu.Unlock()
	u.heap = ms.HeapInuse - min(u.model, ms.HeapInuse)
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		s.t.Fatal(err)
	}
	for _, e := range fds {
		// go-fuse keeps a pool of pipes for splicing replies, as large as
		// the requests that were in flight at once: bounded, not a leak.
		if l, _ := os.Readlink("/proc/self/fd/" + e.Name()); strings.HasPrefix(l, "pipe:") {
			u.pipes++
		} else {
			u.fds++
		}
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		s.t.Fatal(err)
	}
	u.storeVMAs = strings.Count(string(maps), "memfd:nlfs-data")
	return u
}
