package fs

import (
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"testing"
	"time"
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
	s.droppedWrites = true
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
