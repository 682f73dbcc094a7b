package remapper

import (
	"bytes"
	"fmt"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"

	"github.com/nlfs/nlfs/internal/testenv"
)

// refusals are the answers of kernels and sandboxes that refuse
// remap_file_pages: gVisor (ENOSYS), seccomp filters such as firejail's
// (EPERM).
var refusals = []syscall.Errno{syscall.ENOSYS, syscall.EPERM}

// failRemapAlways makes every remap_file_pages call fail with errno.
func failRemapAlways(t testing.TB, errno syscall.Errno) *int {
	calls := new(int)
	setSeam(t, &seams.remap, func(addr, size uintptr, prot int, pgoff uintptr, flags int) error {
		*calls++
		return errno
	})
	return calls
}

// TestProbeRefusedFallsBackToMmap: where remap_file_pages is refused from
// the start, auto serves every layout with mmap (and says why), and a forced
// remap is refused at New with a message that names the way out.
func TestProbeRefusedFallsBackToMmap(t *testing.T) {
	for _, errno := range refusals {
		t.Run(errno.Error(), func(t *testing.T) {
			calls := failRemapAlways(t, errno)
			m := newMapper(t, Auto)
			if *calls != 1 {
				t.Fatalf("New made %d remap calls, want the one probe", *calls)
			}
			fillStore(t, m, 16)
			for _, pages := range [][]int64{reverse(16), interleave(16), rotate(16, 5), identity(16)} {
				apply(t, m, pages)
				wantIDs(t, m, pages)
				st := m.Status()
				if st.Backend != MMap || !strings.Contains(st.Reason, errno.Error()) {
					t.Fatalf("status after the probe failed with %v: %+v", errno, st)
				}
			}
			if _, err := New(Options{Backend: Remap}); err == nil || !strings.Contains(err.Error(), "use --backend auto or mmap") {
				t.Fatalf("forced remap where the call is refused: %v", err)
			}
		})
	}
}

// TestRemapRefusedLaterFallsBack: if remap_file_pages starts failing after
// the probe worked (a seccomp filter installed since, a sandbox that changes
// its mind), auto builds the layout with mmap instead, and the view is never
// lost; a forced remap reports the error and keeps the previous view.
func TestRemapRefusedLaterFallsBack(t *testing.T) {
	testenv.RequireRemapFilePages(t)
	for _, errno := range refusals {
		t.Run("auto/"+errno.Error(), func(t *testing.T) {
			m := newMapper(t, Auto)
			fillStore(t, m, 16)
			apply(t, m, reverse(16))
			if st := m.Status(); st.Backend != Remap {
				t.Fatalf("remap_file_pages works here, yet auto does not use it: %+v", st)
			}
			mappings := storeMappings(t)
			calls := failRemapAlways(t, errno)
			if err := m.Apply(runsOf(interleave(16))); err != nil {
				t.Fatalf("Apply with remap_file_pages failing with %v: %v", errno, err)
			}
			if *calls == 0 {
				t.Fatal("no remap_file_pages call was made: the fault was not exercised")
			}
			wantIDs(t, m, interleave(16))
			st := m.Status()
			if st.Backend != MMap || !strings.Contains(st.Reason, errno.Error()) {
				t.Fatalf("status after remap failed with %v: %+v", errno, st)
			}
			if st.VMAs != 16 {
				t.Fatalf("%d VMAs for 16 runs", st.VMAs)
			}
			if got := storeMappings(t); got > mappings+16 {
				t.Fatalf("store mappings %d -> %d: a half-built view leaked", mappings, got)
			}
			// Writes through the fallback view land in the store.
			if _, err := m.WriteView(pageContent(40), 1*ps); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, ps)
			m.ReadData(buf, 8*ps) // interleave(16)[1] == 8
			if pageID(t, buf) != 40 {
				t.Fatal("a write through the fallback view missed the store")
			}
		})
		t.Run("forced/"+errno.Error(), func(t *testing.T) {
			m := newMapper(t, Remap)
			fillStore(t, m, 16)
			apply(t, m, reverse(16))
			before, mappings := readAll(t, m), storeMappings(t)
			failRemapAlways(t, errno)
			err := m.Apply(runsOf(interleave(16)))
			wantErrno(t, err, errno)
			if !bytes.Equal(readAll(t, m), before) {
				t.Fatal("the previous view changed")
			}
			if got := storeMappings(t); got != mappings {
				t.Fatalf("store mappings %d -> %d: the half-built view leaked", mappings, got)
			}
		})
	}
}

// TestAutoAtKernelVMALimit drives auto into the kernel's real VMA limit
// (the budget is fooled into allowing 70000 runs): the ENOMEM must turn
// into the gather backend, with the view right, the previous one unmapped
// and nothing leaked; then the mapper maps small layouts again. It runs in a
// child process, since a process at the VMA limit is fragile.
func TestAutoAtKernelVMALimit(t *testing.T) {
	runInChild(t, "REMAPPER_AUTO_LIMIT_CHILD", autoLimitChild)
}

func autoLimitChild(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	const big = 70000
	setSeam(t, &seams.maxMapCount, func() (int64, error) { return 1 << 40, nil })
	m := newMapper(t, Auto)
	if m.Status().Backend == Gather {
		t.Fatalf("auto starts with gather: %+v", m.Status())
	}
	if err := m.Truncate(big * ps); err != nil {
		t.Fatal(err)
	}
	fillStore(t, m, 8)
	apply(t, m, reverse(8)) // a view over the first 8 pages
	mappings := storeMappings(t)
	calls := failRemapAt(t, -1, 0)
	pages := reverse(big)
	if err := m.Apply(runsOf(pages)); err != nil {
		t.Fatalf("auto at the VMA limit: %v", err)
	}
	st := m.Status()
	t.Logf("child: auto Apply of %d runs after %d mapping calls: backend %s (%s)", big, *calls, st.Backend, st.Reason)
	if st.Backend != Gather || !strings.Contains(st.Reason, "cannot allocate memory") || st.VMAs != 0 {
		t.Fatalf("status at the VMA limit: %+v", st)
	}
	// The filled pages show where reverse(big) puts them: view page big-1-i.
	buf := make([]byte, ps)
	for i := int64(0); i < 8; i++ {
		if _, err := m.ReadView(buf, (big-1-i)*ps); err != nil {
			t.Fatal(err)
		}
		if id := pageID(t, buf); id != i {
			t.Fatalf("view page %d shows store page %d, want %d", big-1-i, id, i)
		}
	}
	if got := storeMappings(t); got > mappings {
		t.Fatalf("mappings of the store %d -> %d: the half-built view leaked", mappings, got)
	}
	apply(t, m, rotate(8, 3)) // the mapper maps again
	wantIDs(t, m, rotate(8, 3))
	if st := m.Status(); st.Backend == Gather || st.VMAs != 2 {
		t.Fatalf("after the limit, a small layout: %+v", st)
	}
	fmt.Println("CHILD-OK")
}
