package fs

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/nlfs/nlfs/engine"
	"github.com/nlfs/nlfs/layout"
)

// TestStress runs, for NLFS_STRESS_DURATION (default 10s), 8 readers of `view`, 2 writers
// that write whole pages four ways — write(2) through `data` and through `view`, and stores
// through writable shared mappings of `view` and of `data`, flushed with msync (each writer
// has a "mapper" client process of each) —, a layout flipper and an observer of the generated
// files, all through one real mount. It checks that no page read is ever torn or mixed or
// stale, that every read shows only layouts in force while it ran, that no acknowledged write
// is lost, and that the serving process's goroutines, descriptors, heap and mappings of the
// store did not grow.
//
// Ownership. The store has 63 pages. Writer w owns the store pages of parity w, and every
// layout the flipper writes maps each view page to a store page of the same parity (see
// stressLayouts). So each store page has exactly one writer, whatever layout is in force when
// a write through view lands, and a writer's writes are sequential: between two of them, its
// pages can change only if the daemon changes them. Every page written describes itself
// (stressTag: writer, sequence number, kind, the page written at); all 512 words derive from
// the tag, so a page made of two writes, or of a write and zeros, does not decode.
//
// The lost-write check is exact. A writer writes one page, waits for the acknowledgment (the
// write(2) returned, or the msync after the store did), then reads the whole store (data, by
// direct I/O) and compares each of its pages with the model, per-page logs of the
// acknowledged writes found there: every page but one must hold the last write of its log,
// and one of the write's candidate pages must now hold the new write. The candidates are the
// page written at for data and for a store through data's mapping, the page the layout in
// force shows for a store through view's mapping (no layout can change during it, see below;
// a layout writes stores back before it changes anything), and for a write(2) through view
// the pages that view page shows in the layouts in force at some moment of the write. A
// write found nowhere is lost, counted and reported; a page that changed otherwise (a
// clobber, a write in two places or outside its candidates) fails the test at once. After
// the run a final pass reads every page, through data and view, by direct I/O and through
// read-only descriptors, and compares it with the last write of its log. So every
// acknowledged write was in the store when acknowledged, stayed there, as every later check
// of its writer saw, until a later write landed on its page, and the last write of every page
// is there at the end. TestStressCatchesPlantedLoss proves it by planting losses.
//
// The layout checks. The flipper announces each layout before it writes it and confirms it
// once it is in force; a reader notes the confirmed count before its read and the announced
// count after, so the layouts that may have been in force during the read are exactly the
// one confirmed at its start and every one announced before its end. Readers read runs of
// any length, up to the whole view, and place every page whose store page is known (a data
// write and a store through data's mapping name it, a write through view is placed by its
// writer's check, the initial content names its page). Half of them read through read-write
// descriptors, which the mount serves with direct I/O: each read(2) is one READ (the mount's
// max_read holds the whole view), served under one layout, which the whole read must fit.
// The others read through read-only descriptors, which the mount serves from the page cache
// (the test asserts they make far fewer READs than reads), refilled page by page: each page
// must fit one of the layouts on its own. TestStressCatchesCacheFaults plants a cache that
// is not kept exact. Neither may
// show a page older than the last write of its store page acknowledged before the read began.
//
// Stores through mappings. A store of a page through a mapping is not one event: whatever
// writes the page back or drops it while the process's memcpy is halfway takes it as it is,
// and the daemon stores a half-new page, which readers see until the rest follows; a layout
// change in the middle even puts the two halves in two store pages. Any file system would do
// the same. Every kind of I/O does it: an msync writes back every dirty page of the file, not
// only its own process's; a direct-I/O read or write of a range writes back or drops that
// range first; a layout change writes back and drops all of view; a write makes the daemon
// drop what it changed from every cache. To keep the model exact, the store
// itself is made holding storeLock exclusively, and every read, write(2), msync and layout
// change holds it shared until it is done: for a write, until it is acknowledged, when its
// notifications have been sent (a write(2), a close — FLUSH, where the layout file applies a
// layout — and an fsync or msync return only then, see rawFS; a truncate(2) of layout, which
// applies the empty layout in its SETATTR, is followed by an fsync). So the flipper never
// writes `: > layout`, whose empty layout is applied at RELEASE, after close has returned, at a
// moment no lock can know; it writes the empty layout as a text with no entries, or truncates
// the file. Only the memcpy is serialized: the page is faulted in beforehand, and the faults,
// msyncs and writebacks run concurrently with everything else, layout changes included.
func TestStress(t *testing.T) {
	d := 10 * time.Second
	if v := os.Getenv("NLFS_STRESS_DURATION"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			t.Fatalf("NLFS_STRESS_DURATION=%q: %v", v, err)
		}
	}
	s := startStress(t, stressReaders)
	// A hang fails with every goroutine's stack, not at the test binary's timeout (scripts/stress.sh
	// runs without one). The mount's connection is aborted first: a process that dies with
	// files open on its own mount would hang in exit, flushing them to itself.
	watchdog := time.AfterFunc(d+2*time.Minute+30*time.Second, func() {
		abortMount(s.mnt)
		debug.SetTraceback("all")
		panic(fmt.Sprintf("TestStress: still running %v after its %v: a hang", 2*time.Minute, d))
	})
	defer watchdog.Stop()

	warm := min(d/5, 2*time.Second)
	s.run(stressUntil(warm))
	s.flip(0, 0)
	base := s.measure()
	s.run(stressUntil(d))
	s.flip(0, 0)
	end := s.measure()
	s.finalPass()

	if st := status(t, s.mnt); st["last_error"] != "none" {
		t.Errorf("status last_error after the stress: %q", st["last_error"])
	}
	t.Log(s.report(fmt.Sprintf("%v (+%v warm-up)", d, warm)) + fmt.Sprintf("; goroutines %d -> %d, fds %d -> %d (+ pipes %d -> %d), heap %d -> %d KiB (not counting the model's %d KiB), store VMAs %d -> %d",
		base.goroutines, end.goroutines, base.fds, end.fds, base.pipes, end.pipes, base.heap>>10, end.heap>>10, end.model>>10, base.storeVMAs, end.storeVMAs))
	s.reportLosses()
	for k := range stressKinds {
		if s.acked[k].Load() == 0 {
			t.Errorf("no %s write was acknowledged: that writer does not work", stressKindNames[k])
		}
	}
	// The read-only readers really read from the page cache: the READs of view beyond the
	// direct readers' (one each) and the mappers' faults are far fewer than their reads.
	cached, misses := s.reads[0].Load(), s.viewREADs.Load()-s.reads[1].Load()
	t.Logf("read-only reads of view: %d; READs of view besides the direct readers': %d", cached, misses)
	if cached == 0 || misses*2 > cached {
		t.Errorf("the read-only readers made %d reads and the daemon served %d READs of view besides the direct readers': the page cache is not used", cached, misses)
	}
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

// TestStressCatchesPlantedLoss proves the lost-write check of TestStress by planting the
// fault it exists for: the engine acknowledges every 1,000th write (write(2) or the kernel's
// writeback of a mapping, through data or view) and stores nothing of it
// (dropAcknowledgedWrites, planted_test.go). The stress workload runs until the hook has dropped
// stressPlantedLosses writes, and the check must report exactly as many losses — each write
// reaches the engine once, so each drop is one lost acknowledged write —, and nothing else
// wrong. The old check (a write counted as kept if any page it might have hit held any later
// write of its writer) let most such losses through.
func TestStressCatchesPlantedLoss(t *testing.T) {
	// Two readers, not eight: they do not take part in the lost-write check, and with eight
	// the writers share the CPUs with them and make a tenth of the writes.
	s := startStress(t, 2)
	before := acknowledgedWritesDropped()
	restore := dropAcknowledgedWrites(1000)
	deadline := time.Now().Add(2 * time.Minute)
	s.run(func() bool {
		return acknowledgedWritesDropped()-before >= stressPlantedLosses || time.Now().After(deadline)
	})
	restore()
	dropped := acknowledgedWritesDropped() - before
	s.finalPass()
	t.Log(s.report("planted: one acknowledged write in 1000 dropped") + fmt.Sprintf("; writes dropped by the engine: %d", dropped))
	if dropped < stressPlantedLosses {
		t.Fatalf("the hook dropped %d writes in 2 minutes, want %d: too few writes to prove anything", dropped, stressPlantedLosses)
	}
	if lost := s.lostCount(); lost != dropped {
		s.reportLosses()
		t.Errorf("the check found %d lost writes, but the engine dropped %d", lost, dropped)
	}
}

// TestStressCatchesLayoutFaults proves the layout checks of the readers by planting the
// faults they exist for, with the readers and the flipper of the stress workload running
// (no writers: their own check would catch the first fault too): a layout that shows before
// it is in force as far as anyone may know — the flipper confirms each layout before it
// writes it, so a read that starts then and sees the previous layout shows one no longer in
// force, which the old check (any layout ever used) accepted —, and a read made of two
// READs that a layout change may come between — the direct-I/O readers read in two halves
// and check them as one read, which the old check skipped past 32 pages. Each run must be
// caught by the check named.
func TestStressCatchesLayoutFaults(t *testing.T) {
	for _, tc := range []struct {
		name  string
		plant stressPlant
		want  string
	}{
		{"early-confirm", plantEarlyConfirm, "of the layouts in force during"},
		{"split-read", plantSplitReads, "fits none of the layouts in force during it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startStress(t, stressReaders)
			s.writers, s.plant = 0, tc.plant
			s.run(stressUntil(30 * time.Second))
			if s.caught == "" {
				t.Fatalf("30 s of reads and layout changes with the fault planted, and no check caught it (%s)", s.report(tc.name))
			}
			if !strings.Contains(s.caught, tc.want) {
				t.Fatalf("caught by another check than the one expected (%q): %s", tc.want, s.caught)
			}
			t.Logf("caught: %s", s.caught)
		})
	}
}

// TestStressCatchesCacheFaults proves that the readers through read-only descriptors, which
// the mount serves from the page cache, catch a cache the daemon does not keep exact, with
// the whole workload running: one invalidation of a range of view in twenty skipped (the
// daemon answers the write as if it were sent), and every invalidation of view sent before
// the write reaches the store instead of after (a read between the two puts the old bytes
// back). Each run must be caught by the stale-page check.
func TestStressCatchesCacheFaults(t *testing.T) {
	for _, tc := range []struct {
		name  string
		plant func(*cachedFile) (restore func())
		kinds int // the writers' kinds of write: the first kinds of stressKindNames
	}{
		{"one range invalidation in 20 skipped", func(c *cachedFile) func() {
			return plantNotifier(c, func(n contentNotifier) contentNotifier { return &skippingNotifier{contentNotifier: n, every: 20} })
		}, stressKinds},
		// write(2) only: the early invalidation cannot be sent from a writeback WRITE (its
		// pages are under writeback until the reply), and a store through a mapping would
		// then go uninvalidated, which is the other fault.
		{"invalidation before the write", plantEarlyInvalidation, kindView + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startStress(t, stressReaders)
			s.plant, s.kinds = plantCacheFault, tc.kinds
			restore := tc.plant(rootOf(t, s.mnt).viewCaches()[0])
			s.run(stressUntil(30 * time.Second))
			restore()
			if s.caught == "" {
				t.Fatalf("30 s of the workload with the fault planted, and no check caught it (%s)", s.report(tc.name))
			}
			if !strings.Contains(s.caught, "was acknowledged before the read") {
				t.Fatalf("caught by another check than the stale-page one: %s", s.caught)
			}
			t.Logf("caught: %s", s.caught)
		})
	}
}

// stressPlant is a fault planted in the stress workload, to prove a check.
type stressPlant int

const (
	plantNothing      stressPlant = iota
	plantEarlyConfirm             // the flipper confirms each layout before writing it
	plantSplitReads               // direct-I/O readers read in two halves, checked as one read
	plantCacheFault               // the view's cache is not kept exact (planted_test.go)
)

// stressPlantedLosses is how many planted losses TestStressCatchesPlantedLoss waits for.
const stressPlantedLosses = 1

func stressUntil(d time.Duration) func() bool {
	end := time.Now().Add(d)
	return func() bool { return time.Now().After(end) }
}

const (
	stressPages   = 63
	stressReaders = 8
	stressWriters = 2
	stressMagic   = 0x6e6c66732d737472 // "nlfs-str"
)

// The ways a writer writes a page.
const (
	kindData    = iota // write(2) through data, at the store page
	kindView           // write(2) through view, at a view page
	kindMapView        // a store through a writable shared mapping of view, then msync
	kindMapData        // a store through a writable shared mapping of data, then msync
	stressKinds
)

var stressKindNames = [stressKinds]string{"data", "view", "mmap-view", "mmap-data"}

// stressTag is what a written page says of itself.
type stressTag struct {
	seq    int64 // per writer, from 1; 0 is the initial content
	idx    int64 // the store page (data, mmap-data) or view page (view, mmap-view) written at
	kind   int
	writer int
}

func (g stressTag) pack() uint64 {
	return uint64(g.seq)<<16 | uint64(g.idx)<<4 | uint64(g.kind)<<1 | uint64(g.writer)
}

func (g stressTag) String() string {
	if g.seq == 0 {
		return fmt.Sprintf("the initial content of page %d", g.idx)
	}
	return fmt.Sprintf("write %d of writer %d (%s page %d)", g.seq, g.writer, stressKindNames[g.kind], g.idx)
}

// initialTag is what store page p holds before any write.
func initialTag(p int64) stressTag {
	return stressTag{seq: 0, idx: p, kind: kindData, writer: int(p % 2)}
}

func mix(x uint64) uint64 { // splitmix64's finalizer
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

func encodeStressPage(g stressTag) []byte { return stressPageOf(g.pack()) }

// stressPageOf is the page that says tag: its first word, then 511 words derived from it.
func stressPageOf(tag uint64) []byte {
	b := make([]byte, pageSize)
	binary.LittleEndian.PutUint64(b, tag^stressMagic)
	for i := 8; i < pageSize; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], mix(tag+uint64(i)))
	}
	return b
}

// decodeStressPage returns the tag of a whole page, or false for a page that is not one write
// (torn, mixed, zeros, garbage).
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
	g := stressTag{seq: int64(tag >> 16), idx: int64(tag>>4) & 0xfff, kind: int(tag>>1) & 3, writer: int(tag & 1)}
	return g, g.idx < stressPages && tag&8 == 0
}

// stressLayouts are the layouts the flipper writes, as page lists; each keeps the parity of
// every view page. The empty text (the identity that follows data, here of 63 pages) has the
// same pages as the first.
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
		gen(func(v int64) int64 { return v }),        // pinned identity
		gen(func(v int64) int64 { return v }),        // empty text: the following identity
		gen(func(v int64) int64 { return last - v }), // reverse: 62-v keeps parity since 63 is odd
		gen(func(v int64) int64 { // swaps within blocks of four
			if v < 60 {
				return v ^ 2
			}
			return v
		}),
		gen(func(v int64) int64 { // only the even pages reversed
			if v%2 == 0 {
				return last - v
			}
			return v
		}),
		gen(func(v int64) int64 { // only the odd pages reversed
			if v%2 == 1 {
				return last - v
			}
			return v
		}),
		gen(func(v int64) int64 { return v - v%4 + v%2 }), // aliases: 0 1 0 1 4 5 4 5 …
	}
}()

func stressLayoutText(k int) []byte {
	if k == 1 {
		return nil
	}
	return []byte(layout.Canonical(layout.Compile(stressLayouts[k])))
}

// stressWrite is the model's record of one write.
type stressWrite struct {
	kind int
	idx  int64
	// landed is the store page the writer's check found the write on; -1 until then, and for
	// a lost write.
	landed     int64
	start, end time.Time
}

// stressLoss is an acknowledged write that the check found nowhere.
type stressLoss struct {
	writer     int
	seq        int64
	x          stressWrite
	candidates []int64
}

type stress struct {
	t   *testing.T
	mnt string
	e   *engine.Engine
	// readers and writers are how many of each run.
	readers, writers int
	// kinds is how many kinds of write the writers make (the first ones of
	// stressKindNames).
	kinds int
	// plant is the fault planted in the workload, if any; caught is then the first failure
	// the checks found (instead of failing the test).
	plant  stressPlant
	caught string

	// storeLock is held exclusively by a store through a mapping, and shared by a write(2),
	// an msync and a layout change until acknowledged (see TestStress).
	storeLock sync.RWMutex

	// announced counts the flips begun, confirmed those in force (flips[confirmed-1] is the
	// layout in force whenever announced == confirmed).
	announced, confirmed atomic.Int64

	mu     sync.RWMutex
	writes [stressWriters][]stressWrite // writes[w][seq-1]
	flips  []int                        // the layouts (stressLayouts indices) in the order written
	// logs[p] are the sequence numbers of the acknowledged writes found on store page p, in
	// order (all of writer p%2); empty while it holds its initial content.
	logs [stressPages][]int64
	// lastPage[p] is the content of the last write of logs[p] (encodeStressPage).
	lastPage [stressPages][]byte
	losses   []stressLoss

	failed atomic.Bool

	reads                            [2]atomic.Int64 // by the page cache (read-only), by direct I/O
	viewREADs                        atomic.Int64    // READs of view the daemon served
	pagesRead, pagesPlaced, observed atomic.Int64
	acked                            [stressKinds]atomic.Int64
	checks, resolved                 atomic.Int64
	flipsBy                          [3]atomic.Int64 // by text, by a text with no entries, by truncate(2)
	finalPages                       int
}

// startStress mounts the stress test's store, with readers readers for the workload.
func startStress(t *testing.T, readers int) *stress {
	initial := make([]byte, stressPages*pageSize)
	for p := range int64(stressPages) {
		copy(initial[p*int64(pageSize):], encodeStressPage(initialTag(p)))
	}
	mnt, e := testMount(t, engine.Options{Source: bytes.NewReader(initial)})
	s := &stress{t: t, mnt: mnt, e: e, readers: readers, writers: stressWriters, kinds: stressKinds}
	t.Cleanup(e.Subscribe(func(ev engine.Event) {
		if ev.Kind == engine.ViewRead {
			s.viewREADs.Add(1)
		}
	}))
	for p := range int64(stressPages) {
		s.lastPage[p] = encodeStressPage(initialTag(p))
	}
	if mr := stressMaxRead(t, mnt); mr < stressPages*pageSize {
		t.Fatalf("the mount's max_read is %d bytes, less than the view (%d): a read would be several requests, which the single-layout check does not allow for", mr, stressPages*pageSize)
	}
	s.flip(0, 0) // pinned identity: the model's starting point
	return s
}

// stressMaxRead is the max_read option of the mount at mnt, from /proc/self/mountinfo.
func stressMaxRead(t *testing.T, mnt string) int {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 || fields[4] != mnt {
			continue
		}
		for _, opt := range strings.Split(fields[len(fields)-1], ",") {
			if v, ok := strings.CutPrefix(opt, "max_read="); ok {
				var n int
				fmt.Sscan(v, &n)
				return n
			}
		}
	}
	t.Fatalf("no max_read for %s in /proc/self/mountinfo", mnt)
	return 0
}

func (s *stress) fail(format string, args ...any) {
	s.t.Helper()
	if !s.failed.CompareAndSwap(false, true) {
		return
	}
	if s.plant != plantNothing {
		s.caught = fmt.Sprintf(format, args...) // read once the workload is over
		return
	}
	s.t.Errorf(format, args...)
}

func (s *stress) lostCount() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return int64(len(s.losses))
}

// reportLosses fails the test with the first losses.
func (s *stress) reportLosses() {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for i, l := range s.losses {
		if i == 5 {
			s.t.Errorf("… and %d more lost writes", len(s.losses)-5)
			break
		}
		s.t.Errorf("write %d of writer %d (%s page %d, %v..%v) is lost: acknowledged, but none of its candidate store pages %v holds it",
			l.seq, l.writer, stressKindNames[l.x.kind], l.x.idx, l.x.start.Format(time.StampMicro), l.x.end.Format(time.StampMicro), l.candidates)
	}
}

func (s *stress) report(what string) string {
	s.mu.RLock()
	overwritten := 0
	for _, log := range s.logs {
		overwritten += max(len(log)-1, 0)
	}
	lost := len(s.losses)
	s.mu.RUnlock()
	var acked strings.Builder
	total := int64(0)
	for k := range stressKinds {
		fmt.Fprintf(&acked, "%d %s, ", s.acked[k].Load(), stressKindNames[k])
		total += s.acked[k].Load()
	}
	return fmt.Sprintf("stress: %s, GOMAXPROCS %d: %d view reads (%d through read-only descriptors, %d through read-write ones, by direct I/O; %d pages checked whole, %d placed against the layouts in force during their read and checked not stale); %d writes acknowledged (%s%d checked against the store right after, %d of them placed among several candidate pages, %d since overwritten by a later write); %d layouts applied (%d by text, %d by a text with no entries, %d by truncate); %d generated-file reads; final pass: %d pages hold the last write of their logs; writes lost: %d",
		what, runtime.GOMAXPROCS(0), s.reads[0].Load()+s.reads[1].Load(), s.reads[0].Load(), s.reads[1].Load(), s.pagesRead.Load(), s.pagesPlaced.Load(),
		total, acked.String(), s.checks.Load(), s.resolved.Load(), overwritten,
		s.confirmed.Load(), s.flipsBy[0].Load(), s.flipsBy[1].Load(), s.flipsBy[2].Load(), s.observed.Load(), s.finalPages, lost)
}

// flip puts layout k in force and returns once it is, and once its invalidations are sent;
// how picks, for the empty text (k == 1), between a text with no entries and truncate(2).
// Called by the flipper only (or with no workload running).
func (s *stress) flip(k, how int) {
	s.storeLock.RLock()
	defer s.storeLock.RUnlock()
	gen := s.e.Main().Generation()
	s.mu.Lock()
	s.flips = append(s.flips, k)
	n := int64(len(s.flips))
	s.mu.Unlock()
	s.announced.Store(n)
	if s.plant == plantEarlyConfirm {
		s.confirmed.Store(n)
	}
	name := filepath.Join(s.mnt, "layout")
	var err error
	switch {
	case k != 1:
		err = writeLayout(s.mnt, stressLayoutText(k), nil) // applied at close (FLUSH)
		s.flipsBy[0].Add(1)
	case how == 0:
		err = writeLayout(s.mnt, []byte("# no entries: the identity\n"), nil)
		s.flipsBy[1].Add(1)
	default:
		// truncate(2) of layout by path applies the empty layout in its SETATTR, which does
		// not wait for the notifications; an fsync does.
		if err = os.Truncate(name, 0); err == nil {
			err = stressFsync(filepath.Join(s.mnt, "data"))
		}
		s.flipsBy[2].Add(1)
	}
	if err != nil {
		s.fail("write layout %d: %v", k, err)
		return
	}
	if got := s.e.Main().Generation(); got != gen+1 {
		s.fail("layout %d: generation %d once written, want %d", k, got, gen+1)
		return
	}
	text, err := os.ReadFile(name)
	if want := layout.Canonical(layout.Compile(stressLayouts[k])); err != nil || string(text) != want {
		s.fail("layout %d reads back %q (%v), want %q", k, text, err, want)
		return
	}
	s.confirmed.Store(n)
}

func stressFsync(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// layoutsBetween returns the layouts that may be in force between a moment when confirmed
// was c and one when announced was a: the layout confirmed at the first and every one begun
// before the second.
func (s *stress) layoutsBetween(c, a int64) []int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.flips[max(c-1, 0):a])
}

// run runs the workload until done says so (or a check fails).
func (s *stress) run(done func() bool) {
	stop := func() bool { return s.failed.Load() || done() || s.t.Context().Err() != nil }
	var maps [stressWriters][2]*mapperClient
	for w := range s.writers {
		for i, name := range []string{"view", "data"} {
			maps[w][i] = startMapper(s.t, s.mnt, name)
		}
	}
	var wg sync.WaitGroup
	for i := range s.readers {
		wg.Go(func() { s.reader(i, stop) })
	}
	for w := range s.writers {
		wg.Go(func() { s.writer(w, maps[w], stop) })
	}
	wg.Go(func() { s.observer(stop) })
	wg.Go(func() {
		rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
		for !stop() {
			s.flip(rng.IntN(len(stressLayouts)), rng.IntN(2))
		}
	})
	wg.Wait()
	for w := range s.writers {
		for _, c := range maps[w] {
			c.quit()
		}
	}
}

// reader reads runs of view pages and checks each read (see TestStress). Even readers open
// view read-write, which the mount serves with direct I/O: each read(2) is one READ (max_read
// holds the whole view), served under one layout, which the whole read must fit. Odd readers
// open it read-only, which the mount serves from the page cache, filled by READs of their own
// size and dropped by the daemon's notifications: a layout change in the middle of a read(2)
// can give it pages of both layouts, so each page must fit one of the layouts on its own.
// Either way no page may be older than the last write of its store page acknowledged before
// the read began.
func (s *stress) reader(i int, stop func() bool) {
	direct := i%2 == 0
	flag := os.O_RDONLY
	if direct {
		flag = os.O_RDWR
	}
	f, err := os.OpenFile(filepath.Join(s.mnt, "view"), flag, 0)
	if err != nil {
		s.fail("reader %d: %v", i, err)
		return
	}
	defer f.Close()
	rng := rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
	buf := make([]byte, stressPages*pageSize)
	for !stop() {
		first, n := 0, stressPages // one read in eight is the whole view
		if rng.IntN(8) != 0 {
			first = rng.IntN(stressPages)
			n = 1 + rng.IntN(stressPages-first)
		}
		s.storeLock.RLock()
		c := s.confirmed.Load()
		before := s.lastSeqs()
		var k int
		if s.plant == plantSplitReads && direct && n > 1 {
			// Two READs checked as one read: a layout change between them mixes layouts.
			h := n / 2 * pageSize
			k, err = f.ReadAt(buf[:h], int64(first*pageSize))
			if err == nil {
				var k2 int
				k2, err = f.ReadAt(buf[h:n*pageSize], int64(first*pageSize+h))
				k += k2
			}
		} else {
			k, err = f.ReadAt(buf[:n*pageSize], int64(first*pageSize))
		}
		a := s.announced.Load()
		s.storeLock.RUnlock()
		if err != nil || k != n*pageSize {
			s.fail("reader %d: read %d pages at view page %d: %d bytes, %v", i, n, first, k, err)
			return
		}
		layouts := s.layoutsBetween(c, a)
		var known [][2]int64 // view page, store page
		for j := range n {
			v, page := int64(first+j), buf[j*pageSize:(j+1)*pageSize]
			g, ok := decodeStressPage(page)
			if !ok {
				s.fail("reader %d: view page %d (read of %d pages at %d) is torn or mixed: %s", i, v, n, first, stressPageParts(page))
				return
			}
			p, ok := s.storePageOf(g)
			switch {
			case !ok:
				s.fail("reader %d: view page %d shows %v, which was never written", i, v, g)
				return
			case p < 0: // a write through view its writer has not placed yet
				continue
			case g.seq < before[p]:
				s.fail("reader %d: view page %d shows %v, but write %d of store page %d was acknowledged before the read", i, v, g, before[p], p)
				return
			case !direct && !fitsOneLayout([][2]int64{{v, p}}, layouts):
				s.fail("reader %d: view page %d shows store page %d, which none of the layouts in force during the read (%v) shows there", i, v, p, layouts)
				return
			}
			known = append(known, [2]int64{v, p})
		}
		if direct && !fitsOneLayout(known, layouts) {
			s.fail("reader %d: a read of %d pages at view page %d fits none of the layouts in force during it (%v): (view page, store page) %v", i, n, first, layouts, known)
			return
		}
		if direct {
			s.reads[1].Add(1)
		} else {
			s.reads[0].Add(1)
		}
		s.pagesRead.Add(int64(n))
		s.pagesPlaced.Add(int64(len(known)))
	}
}

// lastSeqs returns the sequence number of the last write logged for each store page (0: its
// initial content).
func (s *stress) lastSeqs() (seqs [stressPages]int64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for p, log := range s.logs {
		if len(log) > 0 {
			seqs[p] = log[len(log)-1]
		}
	}
	return seqs
}

// storePageOf says which store page holds the write g: the page a data write names, the one
// the writer's check found a write through view on, or -1 if that check is still to come.
// False for a write never made.
func (s *stress) storePageOf(g stressTag) (int64, bool) {
	if g.seq == 0 {
		return g.idx, g.kind == kindData && g.idx%2 == int64(g.writer)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if g.seq > int64(len(s.writes[g.writer])) {
		return 0, false
	}
	x := s.writes[g.writer][g.seq-1]
	if x.kind != g.kind || x.idx != g.idx {
		return 0, false
	}
	if g.kind == kindData || g.kind == kindMapData {
		return g.idx, true
	}
	return x.landed, true
}

func fitsOneLayout(known [][2]int64, layouts []int) bool {
	for _, k := range layouts {
		fits := true
		for _, vp := range known {
			if stressLayouts[k][vp[0]] != vp[1] {
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

// writer makes writer w's writes, one at a time, each checked against the store once
// acknowledged (see TestStress). maps are its mapper clients of view and of data.
func (s *stress) writer(w int, maps [2]*mapperClient, stop func() bool) {
	var files [2]*os.File // by write(2): data, view
	for kind, name := range []string{"data", "view"} {
		f, err := os.OpenFile(filepath.Join(s.mnt, name), os.O_RDWR, 0)
		if err != nil {
			s.fail("writer %d: %v", w, err)
			return
		}
		defer f.Close()
		files[kind] = f
	}
	// Read-write: served with direct I/O, so reads show the store itself, never a cache.
	check, err := os.OpenFile(filepath.Join(s.mnt, "data"), os.O_RDWR, 0)
	if err != nil {
		s.fail("writer %d: %v", w, err)
		return
	}
	defer check.Close()
	buf := make([]byte, stressPages*pageSize)
	rng := rand.New(rand.NewPCG(uint64(w)+100, uint64(time.Now().UnixNano())))
	for !stop() {
		kind := rng.IntN(s.kinds)
		idx := int64(2*rng.IntN((stressPages+1-w)/2) + w)
		s.mu.Lock()
		s.writes[w] = append(s.writes[w], stressWrite{kind: kind, idx: idx, landed: -1})
		seq := int64(len(s.writes[w]))
		s.mu.Unlock()
		tag := stressTag{seq: seq, idx: idx, kind: kind, writer: w}
		start := time.Now()
		candidates, err := s.write(tag, files, maps)
		end := time.Now()
		s.mu.Lock()
		s.writes[w][seq-1].start, s.writes[w][seq-1].end = start, end
		s.mu.Unlock()
		if err != nil {
			s.fail("writer %d: %v", w, err)
			return
		}
		s.acked[kind].Add(1)
		if !s.checkWrite(tag, candidates, check, buf) {
			return
		}
	}
}

// write makes write g and returns once it is acknowledged, with the store pages it may have
// landed on.
func (s *stress) write(g stressTag, files [2]*os.File, maps [2]*mapperClient) ([]int64, error) {
	off := g.idx * int64(pageSize)
	// mapped makes a store through the mapping of file f (0 view, 1 data) and msyncs it;
	// where runs with storeLock held exclusively, just before the store.
	mapped := func(f int, where func()) error {
		c := maps[f]
		s.storeLock.RLock()
		reply, err := c.try(fmt.Sprintf("touch %d", g.idx))
		s.storeLock.RUnlock()
		if err != nil || reply != "ok" {
			return fmt.Errorf("%v: touch: %s %v", g, reply, err)
		}
		s.storeLock.Lock()
		where()
		reply, err = c.try(fmt.Sprintf("stamp %d %d", g.idx, g.pack()))
		s.storeLock.Unlock()
		if err == nil && reply == "ok" {
			s.storeLock.RLock()
			reply, err = c.try("msync")
			s.storeLock.RUnlock()
		}
		if err == nil && reply != "ok" {
			err = fmt.Errorf("mapper: %s", reply)
		}
		if err != nil {
			return fmt.Errorf("%v: %v", g, err)
		}
		return nil
	}
	switch g.kind {
	case kindData, kindView:
		s.storeLock.RLock()
		c := s.confirmed.Load()
		k, err := files[g.kind].WriteAt(encodeStressPage(g), off)
		a := s.announced.Load()
		s.storeLock.RUnlock()
		if err != nil || k != pageSize {
			return nil, fmt.Errorf("%v: %d bytes, %v", g, k, err)
		}
		if g.kind == kindData {
			return []int64{g.idx}, nil
		}
		var pages []int64
		for _, l := range s.layoutsBetween(c, a) {
			if p := stressLayouts[l][g.idx]; !slices.Contains(pages, p) {
				pages = append(pages, p)
			}
		}
		return pages, nil
	case kindMapView:
		// No layout changes while storeLock is held exclusively: the one in force now is
		// where the store lands.
		var page int64
		err := mapped(0, func() {
			s.mu.RLock()
			page = stressLayouts[s.flips[s.confirmed.Load()-1]][g.idx]
			s.mu.RUnlock()
		})
		return []int64{page}, err
	default: // kindMapData
		return []int64{g.idx}, mapped(1, func() {})
	}
}

// checkWrite reads the whole store and compares writer g.writer's pages with the model: all
// hold the last write of their logs but one of candidates, which holds g. It records where g
// landed, or that it is lost. False if the store is wrong in any other way (the test failed).
func (s *stress) checkWrite(g stressTag, candidates []int64, check *os.File, buf []byte) bool {
	s.storeLock.RLock()
	k, err := check.ReadAt(buf, 0)
	s.storeLock.RUnlock()
	if err != nil || k != len(buf) {
		s.fail("writer %d: read data after %v: %d bytes, %v", g.writer, g, k, err)
		return false
	}
	s.checks.Add(1)
	written := encodeStressPage(g)
	s.mu.Lock()
	defer s.mu.Unlock()
	var found []int64
	for p := int64(g.writer); p < stressPages; p += 2 {
		page := buf[p*int64(pageSize) : (p+1)*int64(pageSize)]
		switch { // whole pages compared: a page of one write and a bit of another is neither
		case bytes.Equal(page, s.lastPage[p]):
		case bytes.Equal(page, written):
			found = append(found, p)
		default:
			if got, ok := decodeStressPage(page); ok {
				s.fail("store page %d holds %v after %v, but its last write was %v", p, got, g, s.lastWrite(p))
			} else {
				s.fail("store page %d is torn or mixed after %v (its last write: %v): %s", p, g, s.lastWrite(p), stressPageParts(page))
			}
			return false
		}
	}
	x := &s.writes[g.writer][g.seq-1]
	switch {
	case len(found) == 0:
		s.losses = append(s.losses, stressLoss{writer: g.writer, seq: g.seq, x: *x, candidates: candidates})
		return true
	case len(found) > 1 || !slices.Contains(candidates, found[0]):
		s.fail("%v landed on store pages %v; it could land on one of %v", g, found, candidates)
		return false
	}
	x.landed = found[0]
	s.logs[found[0]] = append(s.logs[found[0]], g.seq)
	s.lastPage[found[0]] = written
	if len(candidates) > 1 {
		s.resolved.Add(1)
	}
	return true
}

// lastWrite is what the model says store page p holds: the last write in its log. Needs mu.
func (s *stress) lastWrite(p int64) stressTag {
	log := s.logs[p]
	if len(log) == 0 {
		return initialTag(p)
	}
	seq := log[len(log)-1]
	x := s.writes[p%2][seq-1]
	return stressTag{seq: seq, idx: x.idx, kind: x.kind, writer: int(p % 2)}
}

// finalPass reads every store page once the workload is over, through data and view (with the
// identity put in force first), each by direct I/O and from the page cache: each page holds
// the last write of its log.
func (s *stress) finalPass() {
	s.flip(0, 0)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.finalPages = stressPages
	for _, name := range []string{"data", "view"} {
		for _, flag := range []int{os.O_RDWR, os.O_RDONLY} {
			f, err := os.OpenFile(filepath.Join(s.mnt, name), flag, 0)
			if err != nil {
				s.t.Fatal(err)
			}
			b := make([]byte, stressPages*pageSize+1)
			k, err := io.ReadFull(f, b)
			f.Close()
			if err != io.ErrUnexpectedEOF || k != stressPages*pageSize {
				s.t.Fatalf("final pass: read %s (flags %#x): %d bytes, %v", name, flag, k, err)
			}
			for p := range int64(stressPages) {
				page := b[p*int64(pageSize) : (p+1)*int64(pageSize)]
				if got, ok := decodeStressPage(page); !ok || got != s.lastWrite(p) {
					s.t.Errorf("final pass: page %d of %s (flags %#x) holds %s, want its last write, %v", p, name, flag, stressPageParts(page), s.lastWrite(p))
					s.finalPages = 0
				}
			}
		}
	}
	if got := s.e.DataSize(); got != stressPages*int64(pageSize) {
		s.t.Errorf("data size %d after the stress, want %d", got, stressPages*pageSize)
	}
}

func (s *stress) observer(stop func() bool) {
	for !stop() {
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
	// The model's records of every write live in this heap too (about 80 bytes a write, some
	// tens of MiB for five minutes): they are not the daemon's.
	s.mu.RLock()
	u.model = uint64(cap(s.flips)) * uint64(unsafe.Sizeof(int(0)))
	for _, ws := range s.writes {
		u.model += uint64(cap(ws)) * uint64(unsafe.Sizeof(stressWrite{}))
	}
	for _, log := range s.logs {
		u.model += uint64(cap(log)) * 8
	}
	s.mu.RUnlock()
	u.heap = ms.HeapInuse - min(u.model, ms.HeapInuse)
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		s.t.Fatal(err)
	}
	for _, e := range fds {
		// go-fuse keeps a pool of pipes for splicing replies, as large as the requests that
		// were in flight at once: bounded, not a leak.
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

// stressInv64 is the inverse of the odd a modulo 2^64 (Newton's iteration).
func stressInv64(a uint64) uint64 {
	x := a // right in its low 3 bits; each step doubles them: 6, 12, 24, 48, 96
	for range 6 {
		x *= 2 - a*x
	}
	return x
}

func stressUnshift(x uint64, k uint) uint64 { // inverse of x ^= x >> k
	y := x
	for s := k; s < 64; s += k {
		y = x ^ y>>k
	}
	return y
}

// stressUnmix inverts mix.
func stressUnmix(x uint64) uint64 {
	x = stressUnshift(x, 31)
	x *= stressInv64(0x94d049bb133111eb)
	x = stressUnshift(x, 27)
	x *= stressInv64(0xbf58476d1ce4e5b9)
	return stressUnshift(x, 30)
}

// stressPageParts describes a page by the writes its words come from (each word names its
// tag: stressUnmix inverts mix), for the failure messages: a torn page shows which writes met.
func stressPageParts(b []byte) string {
	var parts []string
	var cur uint64
	start := 0
	for i := 0; i <= len(b); i += 8 {
		var tag uint64
		if i < len(b) {
			w := binary.LittleEndian.Uint64(b[i:])
			if i == 0 {
				tag = w ^ stressMagic
			} else {
				tag = stressUnmix(w) - uint64(i)
			}
		}
		if i == len(b) || (i > 0 && tag != cur) {
			g := stressTag{seq: int64(cur >> 16), idx: int64(cur>>4) & 0xfff, kind: int(cur>>1) & 3, writer: int(cur & 1)}
			parts = append(parts, fmt.Sprintf("words %d-%d: %v", start/8, i/8-1, g))
			start = i
		}
		cur = tag
	}
	if len(parts) > 4 {
		return fmt.Sprintf("%d pieces: not made of writes", len(parts))
	}
	return strings.Join(parts, "; ")
}

// TestStressPageParts: a page made of two writes is described as such, which the stress
// failure messages rely on.
func TestStressPageParts(t *testing.T) {
	a := stressTag{seq: 7, idx: 4, kind: kindMapView, writer: 0}
	b := stressTag{seq: 9, idx: 6, kind: kindData, writer: 0}
	torn := encodeStressPage(a)
	copy(torn[32:64], encodeStressPage(b)[32:64])
	for _, tc := range []struct {
		name string
		page []byte
		want string
	}{
		{"whole", encodeStressPage(a), "words 0-511: " + a.String()},
		{"torn", torn, fmt.Sprintf("words 0-3: %v; words 4-7: %v; words 8-511: %v", a, b, a)},
		{"zeros", make([]byte, pageSize), "512 pieces: not made of writes"},
	} {
		if got := stressPageParts(tc.page); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}
