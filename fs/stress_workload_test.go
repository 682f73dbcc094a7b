package fs

// The workload of the stress test (stress_test.go): the mount, the readers, the writers, the
// layout flipper and the observer, and their checks as each runs.

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nlfs/nlfs/engine"
	"github.com/nlfs/nlfs/layout"
)

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
	// droppedWrites: the engine drops acknowledged writes (TestStressCatchesPlantedLoss). A
	// dropped writeback of a mapping leaves its bytes in the written file's page cache, clean,
	// which no real daemon would: the final pass then drops the clean cached pages before it
	// reads from the cache, so that it checks the store.
	droppedWrites bool

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
	want := layout.Canonical(layout.Compile(stressLayouts[k]))
	if k == 1 { // the identity, written as no entries, reads as the comment that says so
		want = string(layout.IdentityText(int64(len(stressLayouts[k]))))
	}
	if err != nil || string(text) != want {
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
