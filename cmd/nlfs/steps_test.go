package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/nlfs/nlfs/internal/testenv"
	"github.com/nlfs/nlfs/layout"
	"github.com/nlfs/nlfs/remapper"
	"github.com/nlfs/nlfs/run"
)

// stepsLTP is the ltp demo's layout: LTP remap_file_pages01's calls, one per page.
func stepsLTP() string {
	var b strings.Builder
	for p := range 16 {
		fmt.Fprintf(&b, "remap %d 1 %d\n", p, p^1)
	}
	return b.String()
}

// TestLayoutShowSteps: nlfs layout show --steps draws what the renderers' goldens hold, --svg
// draws pictures, and remap lines without a page list need the store's size.
func TestLayoutShowSteps(t *testing.T) {
	golden, err := os.ReadFile("../../layout/render/testdata/steps-ltp.txt")
	if err != nil {
		t.Fatal(err)
	}
	if r := nlfs(t, stepsLTP(), "layout", "show", "--steps", "--pages", "16", "-"); r.code != 0 || r.stdout != string(golden) {
		t.Errorf("layout show --steps: exit %d, stderr %q, stdout:\n%s", r.code, r.stderr, r.stdout)
	}
	golden, err = os.ReadFile("../../layout/render/testdata/steps-ltp.svg")
	if err != nil {
		t.Fatal(err)
	}
	if r := nlfs(t, stepsLTP(), "layout", "show", "--steps", "--svg", "--pages", "16", "-"); r.code != 0 || r.stdout != string(golden) {
		t.Errorf("layout show --steps --svg: exit %d, stderr %q, %d bytes", r.code, r.stderr, len(r.stdout))
	}
	if r := nlfs(t, "2 1 0\n", "layout", "show", "--svg", "-"); r.code != 0 || !strings.HasPrefix(r.stdout, "<?xml") ||
		!strings.Contains(r.stdout, "<title>nlfs map: 3 view pages in 3 runs</title>") {
		t.Errorf("layout show --svg: exit %d, stderr %q, stdout %.300s", r.code, r.stderr, r.stdout)
	}
	if r := nlfs(t, "2 1 0\n", "layout", "show", "-"); r.code != 0 || !strings.HasPrefix(r.stdout, "view page   0  1  2\n") ||
		!strings.Contains(r.stdout, "\nview 0 -> store 2\n") {
		t.Errorf("layout show: exit %d, stderr %q, stdout:\n%s", r.code, r.stderr, r.stdout)
	}
	checkOneLine(t, nlfs(t, stepsLTP(), "layout", "show", "--steps", "-"), exitUsage,
		"layout show: - has remap lines and no page list: they apply to the identity view over the store, so give its size with --pages N")
	checkOneLine(t, nlfs(t, "0 1\nremap 1 2 0\n", "layout", "show", "--steps", "-"), exitLayout,
		"-: line 2, column 1: remap of view pages 1-2 runs past the end of the view (2 pages)")
}

// TestStepsMatchKernel makes each drawing's calls with remap_file_pages on a real shared
// mapping and reads /proc/self/maps after each: the kernel holds exactly one VMA per run of the
// step, over its view pages and at its store page. This is what lets the step drawings say
// "split" and "merged" and count VMAs without a mount.
func TestStepsMatchKernel(t *testing.T) {
	testenv.RequireRemapFilePages(t)
	const pages = 16
	ps := remapper.PageSize()
	for _, text := range []string{
		stepsLTP(),
		"0-5\nremap 0 2 4\nremap 2 2 0\nremap 0 4 0\n",
		"7-0\nremap 0 4 0\nremap 4 4 4\n",
		"0-15\nremap 3 5 9\nremap 0 16 0\nremap 15 1 0\nremap 0 1 15\n",
	} {
		_, steps, err := layout.Steps([]byte(text), layout.Limits{DataPages: pages})
		if err != nil {
			t.Fatal(err)
		}
		fd, err := unix.MemfdCreate("nlfs-steps-test", 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := unix.Ftruncate(fd, pages*ps); err != nil {
			t.Fatal(err)
		}
		view := run.ViewPages(steps[0].Runs)
		m, err := unix.Mmap(fd, 0, int(view*ps), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		if err != nil {
			t.Fatal(err)
		}
		base := uintptr(unsafe.Pointer(&m[0]))
		remap := func(v, n, f int64) {
			t.Helper()
			err := remapper.RemapFilePages(base+uintptr(v*ps), uintptr(n*ps), 0, uintptr(f), 0)
			if err != nil {
				t.Fatalf("remap_file_pages(view page %d, %d pages, store page %d): %v", v, n, f, err)
			}
		}
		// The page list as the remap backend builds it: a linear mapping, then each run.
		for _, r := range steps[0].Runs {
			if r.File != r.View {
				remap(r.View, r.Count, r.File)
			}
		}
		for i, s := range steps {
			if i > 0 {
				remap(s.View, s.Count, s.File)
			}
			got := stepsVMAs(t, base, base+uintptr(view*ps), ps)
			var want []run.Run
			for _, r := range s.Runs {
				want = append(want, run.Run{View: r.View, File: r.File, Count: r.Count})
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%q step %d (line %d): the kernel holds VMAs %v, the drawing says %v", text, i, s.Line, got, want)
			}
		}
		unix.Munmap(m)
		unix.Close(fd)
	}
}

// stepsVMAs reads the VMAs of [lo, hi) from /proc/self/maps as runs.
func stepsVMAs(t *testing.T, lo, hi uintptr, ps int64) []run.Run {
	t.Helper()
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	var out []run.Run
	sc := bufio.NewScanner(bytes.NewReader(maps))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		a, b, _ := strings.Cut(f[0], "-")
		start, _ := strconv.ParseUint(a, 16, 64)
		end, _ := strconv.ParseUint(b, 16, 64)
		off, _ := strconv.ParseUint(f[2], 16, 64)
		if uintptr(start) >= lo && uintptr(end) <= hi {
			out = append(out, run.Run{View: int64(uintptr(start)-lo) / ps, File: int64(off) / ps, Count: int64(end-start) / ps})
		}
	}
	return out
}
