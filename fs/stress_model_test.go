package fs

// The model of the stress test (stress_test.go): per-page logs of the acknowledged writes, and
// the checks against them: right after each write, and the final pass.

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

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
			if s.droppedWrites && flag == os.O_RDONLY {
				if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
					s.t.Fatal(err)
				}
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
