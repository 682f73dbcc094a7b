package remapper

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/nlfs/nlfs/run"
)

var ps = PageSize()

var mappedBackends = []Backend{Remap, MMap, Gather}

// pageContent is the content of store page n in tests: every 8-byte word holds n+1, so each
// page read identifies itself and a zero page (id -1) is told apart from page 0.
func pageContent(n int64) []byte {
	b := make([]byte, ps)
	for i := int64(0); i < ps; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], uint64(n+1))
	}
	return b
}

// pageIDs decodes a buffer of whole pages back to page numbers: -1 for a zero page. A page
// that is neither (a torn or foreign page) fails the test.
func pageIDs(t testing.TB, buf []byte) []int64 {
	t.Helper()
	var ids []int64
	for off := 0; off+int(ps) <= len(buf); off += int(ps) {
		ids = append(ids, pageID(t, buf[off:off+int(ps)]))
	}
	return ids
}

func pageID(t testing.TB, page []byte) int64 {
	t.Helper()
	w := binary.LittleEndian.Uint64(page)
	for i := 8; i < len(page); i += 8 {
		if binary.LittleEndian.Uint64(page[i:]) != w {
			t.Fatalf("page is not uniform: word 0 = %d, word %d = %d", w, i/8, binary.LittleEndian.Uint64(page[i:]))
		}
	}
	return int64(w) - 1
}

// fillStore writes pages pages of pageContent to the mapper's store.
func fillStore(t testing.TB, m *Mapper, pages int64) {
	t.Helper()
	for i := int64(0); i < pages; i++ {
		if _, err := m.WriteData(pageContent(i), i*ps); err != nil {
			t.Fatal(err)
		}
	}
}

// runsOf turns a page list (the store page shown at each view page) into runs.
func runsOf(pages []int64) []run.Run {
	var runs []run.Run
	for v, f := range pages {
		if n := len(runs); n > 0 && runs[n-1].File+runs[n-1].Count == f {
			runs[n-1].Count++
			continue
		}
		runs = append(runs, run.Run{View: int64(v), File: f, Count: 1})
	}
	return runs
}

func reverse(n int64) []int64 {
	p := make([]int64, n)
	for i := range p {
		p[i] = n - 1 - int64(i)
	}
	return p
}

func rotate(n, k int64) []int64 {
	p := make([]int64, n)
	for i := range p {
		p[i] = (int64(i) + k) % n
	}
	return p
}

func identity(n int64) []int64 { return rotate(n, 0) }

func newMapper(t testing.TB, b Backend) *Mapper {
	t.Helper()
	m, err := New(Options{Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Error(err)
		}
	})
	return m
}

// readAll reads the whole view.
func readAll(t testing.TB, m *Mapper) []byte {
	t.Helper()
	buf := make([]byte, m.ViewSize())
	n, err := m.ReadView(buf, 0)
	if err != nil {
		t.Fatalf("ReadView: %v", err)
	}
	if n != len(buf) {
		t.Fatalf("ReadView: %d bytes, want %d", n, len(buf))
	}
	return buf
}

func wantIDs(t testing.TB, m *Mapper, want []int64) {
	t.Helper()
	got := pageIDs(t, readAll(t, m))
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("view pages show %v, want %v", got, want)
	}
}

func apply(t testing.TB, m *Mapper, pages []int64) {
	t.Helper()
	if err := m.Apply(runsOf(pages)); err != nil {
		t.Fatal(err)
	}
}

func wantErrno(t testing.TB, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want %v", err, want)
	}
}

// mapShared maps pages pages of fd and unmaps them when the test ends.
func mapShared(t testing.TB, fd int, pages int64, prot, flags int) unsafe.Pointer {
	t.Helper()
	p, err := unix.MmapPtr(fd, 0, nil, uintptr(pages*ps), prot, flags)
	if err != nil {
		t.Fatalf("mmap: %v", err)
	}
	t.Cleanup(func() { unix.MunmapPtr(p, uintptr(pages*ps)) })
	return p
}

// newFile makes a memfd of pages pages of pageContent.
func newFile(t testing.TB, pages int64) int {
	t.Helper()
	fd, err := unix.MemfdCreate("remapper-test", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	for i := int64(0); i < pages; i++ {
		if _, err := unix.Pwrite(fd, pageContent(i), i*ps); err != nil {
			t.Fatal(err)
		}
	}
	return fd
}

// idsAt reads the page ids of a mapping of n pages.
func idsAt(t testing.TB, base unsafe.Pointer, n int64) []int64 {
	t.Helper()
	return pageIDs(t, bytes.Clone(mem(base, 0, int(n*ps))))
}

// vmaLines returns the /proc/self/maps lines covering [base, base+n pages).
func vmaLines(t testing.TB, base unsafe.Pointer, n int64) []string {
	t.Helper()
	maps, err := readMaps()
	if err != nil {
		t.Fatal(err)
	}
	return mapsLinesIn(maps, uintptr(base), uintptr(base)+uintptr(n*ps))
}

// mapsOffset returns the file offset field of the maps line containing addr.
func mapsOffset(t testing.TB, addr unsafe.Pointer) string {
	t.Helper()
	lines := vmaLines(t, addr, 1)
	if len(lines) != 1 {
		t.Fatalf("want one maps line at %p, got %q", addr, lines)
	}
	return strings.Fields(lines[0])[2]
}

// seams is the Kernel of the stores these tests make (New): the kernel's own calls, except
// those a test replaced for its duration with setSeam (as failRemapAt and failMmapAt do).
var seams = &testKernel{}

// testKernel is a Kernel whose calls can be replaced one by one; a nil field is the kernel's.
type testKernel struct {
	LinuxKernel
	mu          sync.Mutex // guards the fields below
	remap       func(addr, size uintptr, prot int, pgoff uintptr, flags int) error
	mmap        func(fd int, off int64, addr unsafe.Pointer, length uintptr, prot, flags int) (unsafe.Pointer, error)
	pwrite      func(fd int, p []byte, off int64) (int, error)
	maxMapCount func() (int64, error)
}

// seam returns the replacement of a call, nil if there is none.
func seam[T any](k *testKernel, f *T) T {
	k.mu.Lock()
	defer k.mu.Unlock()
	return *f
}

func (k *testKernel) RemapFilePages(addr, size uintptr, prot int, pgoff uintptr, flags int) error {
	if f := seam(k, &k.remap); f != nil {
		return f(addr, size, prot, pgoff, flags)
	}
	return k.LinuxKernel.RemapFilePages(addr, size, prot, pgoff, flags)
}

func (k *testKernel) Mmap(fd int, off int64, addr unsafe.Pointer, length uintptr, prot, flags int) (unsafe.Pointer, error) {
	if f := seam(k, &k.mmap); f != nil {
		return f(fd, off, addr, length, prot, flags)
	}
	return k.LinuxKernel.Mmap(fd, off, addr, length, prot, flags)
}

func (k *testKernel) Pwrite(fd int, p []byte, off int64) (int, error) {
	if f := seam(k, &k.pwrite); f != nil {
		return f(fd, p, off)
	}
	return k.LinuxKernel.Pwrite(fd, p, off)
}

func (k *testKernel) MaxMapCount() (int64, error) {
	if f := seam(k, &k.maxMapCount); f != nil {
		return f()
	}
	return k.LinuxKernel.MaxMapCount()
}

// setSeam replaces one of seams' calls (a field of it) for the duration of the test.
func setSeam[T any](t testing.TB, field *T, v T) {
	t.Helper()
	seams.mu.Lock()
	old := *field
	*field = v
	seams.mu.Unlock()
	t.Cleanup(func() {
		seams.mu.Lock()
		*field = old
		seams.mu.Unlock()
	})
}

// failRemapAt makes the k-th remap_file_pages call from now fail with errno; it returns a
// pointer to the number of calls made.
func failRemapAt(t testing.TB, k int, errno syscall.Errno) *int {
	calls := new(int)
	setSeam(t, &seams.remap, func(addr, size uintptr, prot int, pgoff uintptr, flags int) error {
		*calls++
		if *calls == k {
			return errno
		}
		return RemapFilePages(addr, size, prot, pgoff, flags)
	})
	return calls
}

// failMmapAt makes the k-th mmap call from now fail with errno.
func failMmapAt(t testing.TB, k int, errno syscall.Errno) *int {
	calls := new(int)
	setSeam(t, &seams.mmap, func(fd int, off int64, addr unsafe.Pointer, length uintptr, prot, flags int) (unsafe.Pointer, error) {
		*calls++
		if *calls == k {
			return nil, errno
		}
		return unix.MmapPtr(fd, off, addr, length, prot, flags)
	})
	return calls
}
