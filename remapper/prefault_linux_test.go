package remapper

import (
	"encoding/binary"
	"os"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/nlfs/nlfs/internal/testenv"
)

// mapped reports, from /proc/self/pagemap, which of n pages at base have a page table entry.
func mapped(t *testing.T, base unsafe.Pointer, n int64) []bool {
	t.Helper()
	testenv.RequirePagemap(t)
	f, err := os.Open("/proc/self/pagemap")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 8*n)
	if _, err := f.ReadAt(buf, int64(uintptr(base)/uintptr(ps))*8); err != nil {
		t.Fatal(err)
	}
	out := make([]bool, n)
	for i := range out {
		out[i] = binary.LittleEndian.Uint64(buf[8*i:])&(1<<63) != 0
	}
	return out
}

// storeBlocks is the memory the store's memfd holds, in 512-byte blocks.
func storeBlocks(t *testing.T, m *Mapper) int64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(m.fd, &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks
}

// TestPrefault: soon after a layout is applied, the view's pages are mapped (a first read
// does not fault them in one by one), except those whose store page was never written (a
// sparse store stays sparse) or is past the end of data.
func TestPrefault(t *testing.T) {
	for _, b := range []Backend{Remap, MMap, Gather} {
		t.Run(string(b), func(t *testing.T) {
			m := newMapper(t, b)
			fillStore(t, m, 48)                         // store pages 0-47 written
			if err := m.Truncate(64 * ps); err != nil { // 48-63: a hole
				t.Fatal(err)
			}
			blocks := storeBlocks(t, m)
			view := append(reverse(64), 70, 3) // 70: past the end of data
			apply(t, m, view)
			m.mu.RLock()
			base, store := m.cur.base, m.cur.base == nil
			if store {
				base = m.mem
			}
			m.mu.RUnlock()
			want := func(i int) bool {
				if store {
					return i < 48 // the store mapping, page i
				}
				return view[i] < 48
			}
			n := int64(len(view))
			if store {
				n = 64
			}
			deadline := time.Now().Add(5 * time.Second)
			for {
				got := mapped(t, base, n)
				ok := true
				for i := range got {
					if got[i] && !want(i) {
						t.Fatalf("page %d of the %s mapping is mapped: a hole or a page past data was touched", i, map[bool]string{true: "store", false: "view"}[store])
					}
					ok = ok && got[i] == want(i)
				}
				if ok {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("after 5 s the %s mapping is %v, want the written pages mapped", b, got)
				}
				time.Sleep(10 * time.Millisecond)
			}
			if got := storeBlocks(t, m); got != blocks {
				t.Fatalf("the store went from %d to %d blocks: the prefaulter filled a hole", blocks, got)
			}
		})
	}
}
