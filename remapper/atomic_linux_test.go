package remapper

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

// storeMappings counts the process's VMAs that map a mapper's store: a leaked half-built view
// would show here.
func storeMappings(t testing.TB) int {
	t.Helper()
	maps, err := readMaps()
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(maps, []byte("/memfd:nlfs-data"))
}

func interleave(n int64) []int64 {
	p := make([]int64, 0, n)
	for i := int64(0); i < n/2; i++ {
		p = append(p, i, i+n/2)
	}
	return p
}

// TestApplyFailureKeepsPreviousView injects a failure at the k-th remap_file_pages or mmap
// call of Apply and checks that the previous view is exactly as before and nothing leaked.
func TestApplyFailureKeepsPreviousView(t *testing.T) {
	next := interleave(16) // 16 runs, 14 of them out of place (the first and last are in place)
	cases := []struct {
		backend Backend
		inject  func(t testing.TB, k int, errno syscall.Errno) *int
		ks      []int
	}{
		{Remap, failRemapAt, []int{1, 2, 8, 14}},   // 14 remap calls
		{MMap, failMmapAt, []int{1, 2, 9, 16, 17}}, // reservation + 16 runs
	}
	for _, c := range cases {
		for _, k := range c.ks {
			for _, errno := range []syscall.Errno{syscall.ENOMEM, syscall.EINVAL} {
				t.Run(fmt.Sprintf("%s/call%d/%s", c.backend, k, errno), func(t *testing.T) {
					m := newMapper(t, c.backend)
					fillStore(t, m, 16)
					apply(t, m, reverse(16))
					before, runs, st := readAll(t, m), m.Runs(), m.Status()
					mappings := storeMappings(t)
					calls := c.inject(t, k, errno)
					err := m.Apply(runsOf(next))
					if !errors.Is(err, errno) || !strings.HasPrefix(err.Error(), "apply layout: ") {
						t.Fatalf("Apply with call %d failing = %v", k, err)
					}
					if *calls != k {
						t.Fatalf("Apply went on after the failure: %d calls", *calls)
					}
					if !bytes.Equal(readAll(t, m), before) || fmt.Sprint(m.Runs()) != fmt.Sprint(runs) {
						t.Fatal("the previous view changed")
					}
					if st2 := m.Status(); st2.ViewAddr != st.ViewAddr || st2.VMAs != st.VMAs || st2.Backend != st.Backend {
						t.Fatalf("status changed: %+v -> %+v", st, st2)
					}
					if got := storeMappings(t); got != mappings {
						t.Fatalf("store mappings %d -> %d: the half-built view leaked", mappings, got)
					}
					// Writes through the surviving view still work.
					if _, err := m.WriteView(pageContent(50), 0); err != nil {
						t.Fatal(err)
					}
					buf := make([]byte, ps)
					m.ReadData(buf, 15*ps)
					if pageID(t, buf) != 50 {
						t.Fatal("write through the surviving view missed the store")
					}
				})
			}
		}
	}
}

// TestAutoFallsBackOnENOMEM: with auto, a mapping that runs into ENOMEM despite the budget is
// served by gather; any other error keeps the previous view.
func TestAutoFallsBackOnENOMEM(t *testing.T) {
	m := newMapper(t, Auto)
	fillStore(t, m, 16)
	apply(t, m, reverse(16))
	failRemapAt(t, 3, syscall.ENOMEM)
	apply(t, m, interleave(16))
	wantIDs(t, m, interleave(16))
	if st := m.Status(); st.Backend != Gather || !strings.Contains(st.Reason, "using gather") || st.VMAs != 0 {
		t.Fatalf("status after ENOMEM: %+v", st)
	}
	failRemapAt(t, 3, syscall.EINVAL)
	err := m.Apply(runsOf(reverse(16)))
	wantErrno(t, err, syscall.EINVAL)
	wantIDs(t, m, interleave(16))
}

// TestIdentityGrowthFailure: if the identity view cannot be rebuilt, a growing write fails
// and changes nothing.
func TestIdentityGrowthFailure(t *testing.T) {
	for _, b := range []Backend{Remap, MMap} {
		t.Run(string(b), func(t *testing.T) {
			m := newMapper(t, b)
			fillStore(t, m, 2)
			failMmapAt(t, 1, syscall.ENOMEM)
			_, err := m.WriteData(pageContent(2), 2*ps)
			wantErrno(t, err, syscall.ENOMEM)
			if m.DataSize() != 2*ps || m.ViewPages() != 2 {
				t.Fatalf("size %d view %d after failed growth", m.DataSize(), m.ViewPages())
			}
			wantIDs(t, m, identity(2))
			fillStore(t, m, 3) // only the first mmap failed: growth works again
			wantIDs(t, m, identity(3))
		})
	}
}

// TestConcurrentReadersSeeWholeLayouts flips layouts while readers read the view: every read
// must be one whole layout (or its slice), never a mix, and no page torn.
func TestConcurrentReadersSeeWholeLayouts(t *testing.T) {
	const n = 16
	layouts := [][]int64{identity(n), reverse(n), rotate(n, 5), interleave(n), {3, 3, 3, 3, 3, 3, 3, 3, 0, 1, 2, 3, 4, 5, 6, 7}, append(reverse(n), identity(8)...)}
	valid := map[string]bool{}
	slices := map[string]bool{}
	for _, l := range layouts {
		valid[fmt.Sprint(l)] = true
		slices[fmt.Sprint(l[4:12])] = true
	}
	forEachBackend(t, func(t *testing.T, b Backend, m *Mapper) {
		fillStore(t, m, n)
		var stop atomic.Bool
		var reads atomic.Int64
		errc := make(chan error, 8)
		var wg sync.WaitGroup
		for r := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, 24*ps)
				for !stop.Load() {
					off, want := int64(0), valid
					if r == 2 {
						off, want = 4*ps, slices
						buf = buf[:8*ps]
					}
					k, _ := m.ReadView(buf, off)
					ids, err := decodeIDs(buf[:k])
					if err == nil && !want[fmt.Sprint(ids)] {
						err = fmt.Errorf("read %v at page %d: not one layout", ids, off/ps)
					}
					if err != nil {
						errc <- err
						return
					}
					reads.Add(1)
				}
			}()
		}
		wg.Add(1)
		go func() { // a writer rewriting the store with the same content
			defer wg.Done()
			for i := int64(0); !stop.Load(); i = (i + 1) % n {
				if _, err := m.WriteData(pageContent(i), i*ps); err != nil {
					errc <- err
					return
				}
			}
		}()
		for i := 0; i < 200 || reads.Load() < 200; i++ {
			var err error
			if i%7 == 6 {
				err = m.ApplyIdentity()
			} else {
				err = m.Apply(runsOf(layouts[i%len(layouts)]))
			}
			if err != nil {
				t.Error(err)
				break
			}
		}
		stop.Store(true)
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Error(err)
		}
		if reads.Load() == 0 {
			t.Error("readers never ran")
		}
	})
}

func decodeIDs(buf []byte) ([]int64, error) {
	var ids []int64
	for off := 0; off+int(ps) <= len(buf); off += int(ps) {
		page := buf[off : off+int(ps)]
		w := binary.LittleEndian.Uint64(page)
		for i := 8; i < len(page); i += 8 {
			if binary.LittleEndian.Uint64(page[i:]) != w {
				return nil, fmt.Errorf("torn page at byte %d", off)
			}
		}
		ids = append(ids, int64(w)-1)
	}
	return ids, nil
}

// TestVMACount: the remap and mmap backends cost one VMA per run, as /proc/self/maps shows,
// and the identity is one VMA again.
func TestVMACount(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend, m *Mapper) {
		fillStore(t, m, 8)
		want := func(vmas int64, runs int64) {
			t.Helper()
			if b == Gather {
				vmas = 0
			}
			st := m.Status()
			if st.VMAs != vmas || st.Runs != runs || int64(len(m.MapsLines())) != vmas {
				t.Fatalf("VMAs %d (maps lines %d), runs %d; want %d VMAs, %d runs\n%s",
					st.VMAs, len(m.MapsLines()), st.Runs, vmas, runs, strings.Join(m.MapsLines(), "\n"))
			}
			for _, l := range m.MapsLines() {
				if !strings.Contains(l, "rw-s") || !strings.Contains(l, "/memfd:nlfs-data") {
					t.Fatalf("maps line %q", l)
				}
			}
		}
		want(1, 1)
		apply(t, m, reverse(8))
		want(8, 8)
		apply(t, m, rotate(8, 3))
		want(2, 2)
		apply(t, m, identity(8)) // pinned identity: one run, one VMA
		want(1, 1)
		apply(t, m, reverse(8))
		if err := m.ApplyIdentity(); err != nil {
			t.Fatal(err)
		}
		want(1, 1)
		if m.Status().ViewAddr == 0 && b != Gather {
			t.Fatal("no view address")
		}
	})
}

// TestVMABudget: a layout of more runs than the VMA budget goes to gather under auto, and is
// refused before anything is touched when a mapping backend is forced.
func TestVMABudget(t *testing.T) {
	const big = 70000
	t.Run("auto", func(t *testing.T) {
		m := newMapper(t, Auto)
		if err := m.Truncate(big * ps); err != nil {
			t.Fatal(err)
		}
		m.WriteData(pageContent(0), 0)
		m.WriteData(pageContent(big-1), (big-1)*ps)
		apply(t, m, reverse(big))
		st := m.Status()
		if st.Backend != Gather || st.VMAs != 0 || st.ViewAddr != 0 || st.Runs != big || st.ViewPages != big ||
			!strings.Contains(st.Reason, "runs 70000 exceed the VMA budget") || !strings.Contains(st.Reason, "vm.max_map_count") {
			t.Fatalf("status %+v", st)
		}
		t.Logf("reason: %s", st.Reason)
		buf := make([]byte, 2*ps)
		m.ReadView(buf, 0)
		if got := fmt.Sprint(pageIDs(t, buf)); got != fmt.Sprintf("[%d -1]", big-1) {
			t.Fatalf("first view pages %s", got)
		}
		m.ReadView(buf, (big-2)*ps)
		if got := fmt.Sprint(pageIDs(t, buf)); got != "[-1 0]" {
			t.Fatalf("last view pages %s", got)
		}
		apply(t, m, reverse(8)) // fits again: back to the probed backend
		if st := m.Status(); st.Backend != Remap || st.VMAs != 8 {
			t.Fatalf("status %+v", st)
		}
	})
	for _, b := range []Backend{Remap, MMap} {
		t.Run(string(b), func(t *testing.T) {
			m := newMapper(t, b)
			fillStore(t, m, 8)
			apply(t, m, reverse(8))
			remaps, mmaps := failRemapAt(t, -1, 0), failMmapAt(t, -1, 0)
			err := m.Apply(runsOf(reverse(big)))
			wantErrno(t, err, syscall.ENOMEM)
			for _, s := range []string{"70000 VMAs", "VMA budget", "vm.max_map_count", "use --backend auto or gather"} {
				if !strings.Contains(err.Error(), s) {
					t.Fatalf("error %q does not mention %q", err, s)
				}
			}
			t.Logf("error: %v", err)
			if *remaps != 0 || *mmaps != 0 {
				t.Fatalf("%d remap and %d mmap calls before refusing", *remaps, *mmaps)
			}
			wantIDs(t, m, reverse(8))
			if st := m.Status(); st.Backend != b || st.VMAs != 8 {
				t.Fatalf("status %+v", st)
			}
		})
	}
	t.Run("exact", func(t *testing.T) {
		// Pretend max_map_count leaves room for 5 runs.
		setSeam(t, &seams.maxMapCount, func() (int64, error) {
			n, err := countVMAs()
			return n + vmaMargin + 5, err
		})
		m := newMapper(t, Auto)
		fillStore(t, m, 16)
		apply(t, m, rotate(16, 3)) // 2 runs
		if st := m.Status(); st.Backend != Remap {
			t.Fatalf("2 runs: %+v", st)
		}
		apply(t, m, reverse(16)) // 16 runs
		if st := m.Status(); st.Backend != Gather || !strings.Contains(st.Reason, "runs 16 exceed the VMA budget") {
			t.Fatalf("16 runs: %+v", st)
		}
		wantIDs(t, m, reverse(16))
	})
}

// TestMillionRuns: a 1,048,576-run view works (gather under the default budget).
func TestMillionRuns(t *testing.T) {
	const n = 1 << 20
	m := newMapper(t, Auto)
	if err := m.Truncate(n * ps); err != nil { // sparse: costs nothing
		t.Fatal(err)
	}
	for _, p := range []int64{0, 1, n / 2, n - 1} {
		m.WriteData(pageContent(p), p*ps)
	}
	apply(t, m, reverse(n))
	if st := m.Status(); st.Backend != Gather || st.Runs != n || st.ViewPages != n {
		t.Fatalf("status %+v", st)
	}
	buf := make([]byte, 2*ps)
	for _, c := range []struct {
		view int64
		want string
	}{{0, fmt.Sprintf("[%d -1]", n-1)}, {n/2 - 1, fmt.Sprintf("[%d -1]", n/2)}, {n - 2, "[1 0]"}} {
		m.ReadView(buf, c.view*ps)
		if got := fmt.Sprint(pageIDs(t, buf)); got != c.want {
			t.Fatalf("view pages %d..: %s, want %s", c.view, got, c.want)
		}
	}
	if err := m.ApplyIdentity(); err != nil {
		t.Fatal(err)
	}
	if st := m.Status(); st.Backend != Remap || st.VMAs != 1 || st.ViewPages != n {
		t.Fatalf("identity over the big store: %+v", st)
	}
}

// TestKernelVMALimit drives a forced remap into the kernel's real VMA limit (by pretending
// max_map_count is huge, so the budget check passes): the ENOMEM must come back as an error,
// with the previous view intact and the half-built one unmapped. It runs in a child process,
// since a process at the limit is fragile.
func TestKernelVMALimit(t *testing.T) {
	runInChild(t, "REMAPPER_LIMIT_CHILD", kernelLimitChild)
}

// runInChild runs the calling test again in a child process with env=1
// set, where it runs child instead; the child must print CHILD-OK. Its
// "child:" lines are logged here. For tests that drive the process to the
// kernel's VMA limit, where the process is fragile.
func runInChild(t *testing.T, env string, child func(*testing.T)) {
	t.Helper()
	if os.Getenv(env) == "1" {
		child(t)
		return
	}
	if testing.Short() {
		t.Skip("short")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), env+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("CHILD-OK")) {
		t.Fatalf("child: %v\n%s", err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "child:") {
			t.Log(strings.TrimSpace(l))
		}
	}
}

func kernelLimitChild(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	const big = 70000
	setSeam(t, &seams.maxMapCount, func() (int64, error) { return 1 << 40, nil })
	m := newMapper(t, Remap)
	if err := m.Truncate(big * ps); err != nil {
		t.Fatal(err)
	}
	fillStore(t, m, 8)
	apply(t, m, reverse(8))
	mappings := storeMappings(t)
	calls := failRemapAt(t, -1, 0)
	err := m.Apply(runsOf(reverse(big)))
	t.Logf("child: Apply of %d runs after %d remap calls: %v", big, *calls, err)
	wantErrno(t, err, syscall.ENOMEM)
	wantIDs(t, m, reverse(8))
	if st := m.Status(); st.VMAs != 8 {
		t.Fatalf("old view has %d VMAs", st.VMAs)
	}
	if got := storeMappings(t); got != mappings {
		t.Fatalf("store mappings %d -> %d", mappings, got)
	}
	apply(t, m, rotate(8, 3)) // the mapper still works
	wantIDs(t, m, rotate(8, 3))
	fmt.Println("CHILD-OK")
}
