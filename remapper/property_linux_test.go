package remapper

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
)

// model is the mapper in plain Go: the store's bytes (whole pages; bytes past size in the last
// page may hold what was written through the view) and the page list of the view.
type model struct {
	store []byte
	size  int64
	view  []int64
}

func (md *model) storePages() int64 { return int64(len(md.store)) / ps }

func (md *model) viewBytes() []byte {
	out := make([]byte, int64(len(md.view))*ps)
	for v, s := range md.view {
		if s < md.storePages() {
			copy(out[int64(v)*ps:], md.store[s*ps:(s+1)*ps])
		}
	}
	return out
}

// writeView mirrors WriteView: byte by byte, stopping at a gone store page or the view's end.
func (md *model) writeView(p []byte, off int64) (int, error) {
	done := 0
	for done < len(p) {
		o := off + int64(done)
		v := o / ps
		if v >= int64(len(md.view)) {
			return done, syscall.EFBIG
		}
		s := md.view[v]
		if s >= md.storePages() {
			return done, syscall.ENXIO
		}
		done += copy(md.store[s*ps+o%ps:(s+1)*ps], p[done:])
	}
	return done, nil
}

func (md *model) truncate(size int64) {
	lo := min(md.size, size)
	clear(md.store[min(lo, int64(len(md.store))):])
	n := pagesFor(size) * ps
	if n <= int64(len(md.store)) {
		md.store = md.store[:n]
	} else {
		md.store = append(md.store, make([]byte, n-int64(len(md.store)))...)
	}
	md.size = size
}

// randomLayout draws a view of random runs: ascending and descending stretches, repeats, and
// pages past the end of the store.
func randomLayout(rng *rand.Rand, storePages int64) []int64 {
	var pages []int64
	n := 1 + rng.IntN(40)
	for len(pages) < n {
		start := rng.Int64N(storePages + 3)
		k := 1 + rng.IntN(6)
		switch rng.IntN(4) {
		case 0: // ascending
			for i := range k {
				pages = append(pages, start+int64(i))
			}
		case 1: // descending
			for i := range k {
				pages = append(pages, max(0, start-int64(i)))
			}
		case 2: // repeat
			for range k {
				pages = append(pages, start)
			}
		case 3: // repeat an earlier stretch
			if len(pages) > 0 {
				i := rng.IntN(len(pages))
				pages = append(pages, pages[i:min(len(pages), i+k)]...)
			} else {
				pages = append(pages, start)
			}
		}
	}
	return pages
}

// TestDifferential: random layouts over random stores, then random writes through the view,
// writes to the store and truncates; all three backends must read exactly what the model says,
// byte for byte, whether copied (ReadView, ReadData) or leased (ViewSlices, DataSlices).
func TestDifferential(t *testing.T) {
	for seed := uint64(1); seed <= 150; seed++ {
		rng := rand.New(rand.NewPCG(seed, 0x6e6c6673))
		size := rng.Int64N(12*ps + 1)
		content := make([]byte, size)
		bytesrc := rand.NewChaCha8([32]byte{byte(seed)})
		bytesrc.Read(content)
		md := &model{}
		md.truncate(size)
		copy(md.store, content)
		md.view = randomLayout(rng, md.storePages())

		ms := make([]*Mapper, len(mappedBackends))
		for i, b := range mappedBackends {
			var err error
			if ms[i], err = New(Options{Backend: b}); err != nil {
				t.Fatal(err)
			}
			if _, err := ms[i].WriteData(content, 0); err != nil {
				t.Fatal(err)
			}
			if err := ms[i].Apply(runsOf(md.view)); err != nil {
				t.Fatalf("seed %d %s: %v", seed, mappedBackends[i], err)
			}
		}
		check := func(step string) {
			want := md.viewBytes()
			for i, m := range ms {
				what := fmt.Sprintf("seed %d, %s, backend %s", seed, step, mappedBackends[i])
				if m.ViewSize() != int64(len(want)) {
					t.Fatalf("%s: view size %d, want %d", what, m.ViewSize(), len(want))
				}
				got := readAll(t, m)
				if !bytes.Equal(got, want) {
					t.Fatalf("%s: view differs from the model at byte %d", what, firstDiff(got, want))
				}
				for range 5 {
					off := rng.Int64N(int64(len(want)) + 10)
					buf := make([]byte, rng.IntN(3*int(ps)))
					n, err := m.ReadView(buf, off)
					wn := int(max(0, min(int64(len(buf)), int64(len(want))-off)))
					if n != wn || err != nil {
						t.Fatalf("%s: ReadView(%d bytes at %d) = %d, %v; want %d", what, len(buf), off, n, err, wn)
					}
					if n > 0 && !bytes.Equal(buf[:n], want[off:off+int64(n)]) {
						t.Fatalf("%s: ReadView(%d bytes at %d) differs", what, len(buf), off)
					}
				}
				// Leased reads: the same bytes, straight from the mappings.
				for range 5 {
					off := rng.Int64N(int64(len(want)) + 10)
					n := rng.IntN(3 * int(ps))
					wn := int(max(0, min(int64(n), int64(len(want))-off)))
					l, err := m.ViewSlices(off, n)
					if err != nil || l.N != wn {
						t.Fatalf("%s: ViewSlices(%d bytes at %d) = %d, %v; want %d", what, n, off, l.N, err, wn)
					}
					if got := bytes.Join(l.Bufs, nil); !bytes.Equal(got, want[min(off, int64(len(want))):min(off, int64(len(want)))+int64(wn)]) {
						t.Fatalf("%s: ViewSlices(%d bytes at %d) differs", what, n, off)
					}
					l.Release()
					dn := rng.IntN(3 * int(ps))
					doff := rng.Int64N(md.size + 10)
					dwn := int(max(0, min(int64(dn), md.size-doff)))
					l, err = m.DataSlices(doff, dn)
					if err != nil || l.N != dwn || !bytes.Equal(bytes.Join(l.Bufs, nil), md.store[min(doff, md.size):min(doff, md.size)+int64(dwn)]) {
						t.Fatalf("%s: DataSlices(%d bytes at %d) = %d, %v; want %d bytes of the model", what, dn, doff, l.N, err, dwn)
					}
					l.Release()
				}
				data := make([]byte, md.size+1)
				n, _ := m.ReadData(data, 0)
				if int64(n) != md.size || !bytes.Equal(data[:n], md.store[:md.size]) {
					t.Fatalf("%s: data differs from the model (%d bytes, want %d)", what, n, md.size)
				}
			}
		}
		check("after apply")
		for step := range 12 {
			if rng.IntN(4) == 0 {
				size := rng.Int64N(14*ps + 1)
				md.truncate(size)
				for _, m := range ms {
					if err := m.Truncate(size); err != nil {
						t.Fatal(err)
					}
				}
				check(fmt.Sprintf("step %d: truncate %d", step, size))
				continue
			}
			if rng.IntN(4) == 0 {
				off := rng.Int64N(14 * ps)
				p := make([]byte, 1+rng.IntN(2*int(ps)))
				bytesrc.Read(p)
				if end := off + int64(len(p)); end > md.size {
					md.truncate(end)
				}
				copy(md.store[off:], p)
				for _, m := range ms {
					if n, err := m.WriteData(p, off); n != len(p) || err != nil {
						t.Fatalf("WriteData = %d, %v", n, err)
					}
				}
				check(fmt.Sprintf("step %d: write data %d at %d", step, len(p), off))
				continue
			}
			off := rng.Int64N(int64(len(md.view))*ps + 100)
			p := make([]byte, 1+rng.IntN(2*int(ps)))
			bytesrc.Read(p)
			wn, werr := md.writeView(p, off)
			for i, m := range ms {
				n, err := m.WriteView(p, off)
				if n != wn || !errors.Is(err, werr) || (werr == nil) != (err == nil) {
					t.Fatalf("seed %d step %d %s: WriteView(%d bytes at %d) = %d, %v; model %d, %v",
						seed, step, mappedBackends[i], len(p), off, n, err, wn, werr)
				}
			}
			check(fmt.Sprintf("step %d: write %d at %d", step, len(p), off))
		}
		for _, m := range ms {
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
