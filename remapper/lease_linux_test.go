package remapper

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"syscall"
	"testing"
	"time"
)

// leaseIDs decodes a lease of whole pages to page ids (-1 for zeros).
func leaseIDs(t testing.TB, l *Lease) []int64 {
	t.Helper()
	return pageIDs(t, bytes.Join(l.Bufs, nil))
}

func TestViewSlices(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend, m *Mapper) {
		fillStore(t, m, 8)
		// The identity view is one piece of memory, whatever the backend.
		l, err := m.ViewSlices(0, 1<<20)
		if err != nil || l.N != 8*int(ps) || len(l.Bufs) != 1 {
			t.Fatalf("identity lease: %d bytes in %d pieces, %v", l.N, len(l.Bufs), err)
		}
		if got := fmt.Sprint(leaseIDs(t, l)); got != fmt.Sprint(identity(8)) {
			t.Fatalf("identity lease shows %s", got)
		}
		l.Release()
		l.Release() // a second release does nothing

		apply(t, m, []int64{7, 6, 2, 3, 4, 11, 12, 0})
		if err := m.Truncate(6 * ps); err != nil { // pages 6, 7 and 11, 12 are now past the end
			t.Fatal(err)
		}
		l, err = m.ViewSlices(ps/2, 8*int(ps))
		if err != nil || l.N != 8*int(ps)-int(ps)/2 {
			t.Fatalf("lease = %d bytes, %v", l.N, err)
		}
		got := bytes.Join(l.Bufs, nil)
		l.Release()
		want := make([]byte, 8*ps)
		if n, _ := m.ReadView(want, 0); n != len(want) {
			t.Fatal("short ReadView")
		}
		if !bytes.Equal(got, want[ps/2:]) {
			t.Fatal("lease differs from ReadView")
		}
		if ids := pageIDs(t, want); fmt.Sprint(ids) != "[-1 -1 2 3 4 -1 -1 0]" {
			t.Fatalf("view after truncate: %v", ids)
		}
		// At and past the end: an empty lease that holds nothing.
		for _, off := range []int64{8 * ps, 100 * ps} {
			l, err := m.ViewSlices(off, 10)
			if err != nil || l.N != 0 || len(l.Bufs) != 0 {
				t.Fatalf("lease at %d = %d bytes, %v", off, l.N, err)
			}
		}
		if _, err := m.WriteData([]byte("x"), 0); err != nil { // would block if the lock were held
			t.Fatal(err)
		}
		_, err = m.ViewSlices(-1, 10)
		wantErrno(t, err, syscall.EINVAL)
	})
}

func TestDataSlices(t *testing.T) {
	m := newMapper(t, Auto)
	if _, err := m.WriteData([]byte("hello, world"), 0); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		off  int64
		n    int
		want string
	}{{0, 5, "hello"}, {7, 100, "world"}, {12, 1, ""}, {50, 1, ""}, {3, 0, ""}} {
		l, err := m.DataSlices(c.off, c.n)
		if err != nil || string(bytes.Join(l.Bufs, nil)) != c.want || l.N != len(c.want) {
			t.Fatalf("DataSlices(%d, %d) = %q, %v; want %q", c.off, c.n, bytes.Join(l.Bufs, nil), err, c.want)
		}
		l.Release()
	}
	_, err := m.DataSlices(-1, 1)
	wantErrno(t, err, syscall.EINVAL)
	m.Close()
	_, err = m.DataSlices(0, 1)
	wantErrno(t, err, os.ErrClosed)
	_, err = m.ViewSlices(0, 1)
	wantErrno(t, err, os.ErrClosed)
}

// TestLeaseHoldsReadLock: while a lease is out, writes, truncates, layout swaps and Close
// wait; they go on once it is released. Reads and other leases do not wait.
func TestLeaseHoldsReadLock(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend, m *Mapper) {
		fillStore(t, m, 4)
		apply(t, m, reverse(4))
		ops := map[string]func() error{
			"WriteData": func() error { _, err := m.WriteData(pageContent(9), 0); return err },
			"WriteView": func() error { _, err := m.WriteView(pageContent(9), 0); return err },
			"Truncate":  func() error { return m.Truncate(2 * ps) },
			"Apply":     func() error { return m.Apply(runsOf(identity(2))) },
		}
		for name, op := range ops {
			l, err := m.ViewSlices(0, 4*int(ps))
			if err != nil {
				t.Fatal(err)
			}
			before := bytes.Join(l.Bufs, nil)
			done := make(chan error, 1)
			go func() { done <- op() }()
			select {
			case err := <-done:
				t.Fatalf("%s finished (%v) while a lease was out", name, err)
			case <-time.After(50 * time.Millisecond):
			}
			if !bytes.Equal(bytes.Join(l.Bufs, nil), before) {
				t.Fatalf("%s changed leased bytes", name)
			}
			l.Release()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%s still blocked after the lease was released", name)
			}
			// Back to the start for the next op.
			if err := m.Truncate(0); err != nil {
				t.Fatal(err)
			}
			fillStore(t, m, 4)
			apply(t, m, reverse(4))
		}
	})
}

// TestStoreMappingGrows: a store past the first reservation of address space gets a bigger
// mapping (the old one is unmapped), and leases and reads see the far pages.
func TestStoreMappingGrows(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend, m *Mapper) {
		fillStore(t, m, 1)
		mappings := storeMappings(t)
		far := int64(minStoreLen)/ps + 3
		if err := m.Truncate((far + 1) * ps); err != nil { // sparse
			t.Fatal(err)
		}
		if _, err := m.WriteData(pageContent(far), far*ps); err != nil {
			t.Fatal(err)
		}
		if got := storeMappings(t); got != mappings {
			t.Fatalf("store mappings %d -> %d", mappings, got)
		}
		l, err := m.DataSlices(far*ps, int(ps))
		if err != nil || pageID(t, bytes.Join(l.Bufs, nil)) != far {
			t.Fatalf("far data page: %v", err)
		}
		l.Release()
		apply(t, m, []int64{far, 0})
		l, err = m.ViewSlices(0, 2*int(ps))
		if err != nil || fmt.Sprint(leaseIDs(t, l)) != fmt.Sprint([]int64{far, 0}) {
			t.Fatalf("view of far page: %v, %v", leaseIDs(t, l), err)
		}
		l.Release()
	})
}

// TestStoreMappingGrowthFailure: if the bigger store mapping cannot be made, the growing
// write fails and changes nothing.
func TestStoreMappingGrowthFailure(t *testing.T) {
	m := newMapper(t, Gather) // no view mapping: the first mmap is the store's
	fillStore(t, m, 2)
	failMmapAt(t, 1, syscall.ENOMEM)
	_, err := m.WriteData(pageContent(7), minStoreLen)
	wantErrno(t, err, syscall.ENOMEM)
	if m.DataSize() != 2*ps || m.ViewPages() != 2 {
		t.Fatalf("size %d view %d after failed growth", m.DataSize(), m.ViewPages())
	}
	wantIDs(t, m, identity(2))
	if _, err := m.WriteData(pageContent(7), minStoreLen); err != nil { // only the first mmap failed
		t.Fatal(err)
	}
	l, _ := m.DataSlices(minStoreLen, int(ps))
	if pageID(t, bytes.Join(l.Bufs, nil)) != 7 {
		t.Fatal("write after the failed growth missed")
	}
	l.Release()
}

// TestDifferentialBudget: random layouts of up to 2000 pages through Auto with a
// VMA budget small enough that some go to gather, against the three forced backends: every
// view reads the same, copied and leased.
func TestDifferentialBudget(t *testing.T) {
	setSeam(t, &seams.maxMapCount, func() (int64, error) {
		n, err := countVMAs()
		return n + vmaMargin + 50, err // room for 50 runs beside what is mapped now
	})
	const pages = 2000
	backends := []Backend{Auto, Remap, MMap, Gather}
	ms := make([]*Mapper, len(backends))
	for i, b := range backends {
		ms[i] = newMapper(t, b)
		fillStore(t, ms[i], pages)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	sawGather, sawRemap := false, false
	for round := range 20 {
		// Runs of random length at random store pages, some past the end of data.
		var view []int64
		for n := 1 + rng.IntN(pages); len(view) < n; {
			start, k := rng.Int64N(pages+5), 1+rng.Int64N(int64(1+rng.IntN(40)))
			for i := range k {
				view = append(view, start+i)
			}
		}
		var want []byte
		for i, m := range ms {
			err := m.Apply(runsOf(view))
			if backends[i] != Auto && backends[i] != Gather && len(runsOf(view)) > 50 {
				// A forced mapping backend refuses what exceeds the budget; serve it
				// without the pretend budget.
				wantErrno(t, err, syscall.ENOMEM)
				continue
			}
			if err != nil {
				t.Fatalf("round %d %s: %v", round, backends[i], err)
			}
			got := readAll(t, m)
			l, err := m.ViewSlices(0, len(got))
			if err != nil || !bytes.Equal(bytes.Join(l.Bufs, nil), got) {
				t.Fatalf("round %d %s: lease differs from ReadView (%v)", round, backends[i], err)
			}
			l.Release()
			if want == nil {
				want = got
				if st := m.Status(); st.Backend == Gather {
					sawGather = true
				} else {
					sawRemap = true
				}
			} else if !bytes.Equal(got, want) {
				t.Fatalf("round %d: %s differs from auto at byte %d", round, backends[i], firstDiff(got, want))
			}
		}
	}
	if !sawGather || !sawRemap {
		t.Fatalf("auto never chose one of gather (%v) and remap (%v)", sawGather, sawRemap)
	}
}

// TestReadsKeepStoreSparse: reading data, or a gather view, over holes of the store gives
// zeros without allocating them (a shared mapping would, on the first touch).
func TestReadsKeepStoreSparse(t *testing.T) {
	m := newMapper(t, Gather)
	const pages = 1024
	if err := m.Truncate(pages * ps); err != nil {
		t.Fatal(err)
	}
	for _, p := range []int64{0, 5, 6, 700, pages - 1} {
		if _, err := m.WriteData(pageContent(p), p*ps); err != nil {
			t.Fatal(err)
		}
	}
	apply(t, m, reverse(pages))
	blocks := storeBlocks(t, m)
	l, err := m.DataSlices(0, pages*int(ps))
	if err != nil {
		t.Fatal(err)
	}
	ids := leaseIDs(t, l)
	l.Release()
	for p, id := range ids {
		want := int64(-1)
		if p == 0 || p == 5 || p == 6 || p == 700 || p == pages-1 {
			want = int64(p)
		}
		if id != want {
			t.Fatalf("data page %d reads as page %d, want %d", p, id, want)
		}
	}
	l, err = m.ViewSlices(0, pages*int(ps))
	if err != nil {
		t.Fatal(err)
	}
	got := leaseIDs(t, l)
	l.Release()
	buf := readAll(t, m)
	if fmt.Sprint(got) != fmt.Sprint(pageIDs(t, buf)) {
		t.Fatal("leased and copied gather views differ")
	}
	for v, id := range got {
		if p := int64(pages - 1 - v); id != map[bool]int64{true: p, false: -1}[ids[p] == p] {
			t.Fatalf("view page %d reads as page %d", v, id)
		}
	}
	if after := storeBlocks(t, m); after != blocks {
		t.Fatalf("reading grew the store from %d to %d blocks", blocks, after)
	}
}
