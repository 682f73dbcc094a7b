package remapper

import (
	"fmt"
	"os"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

const rw = unix.PROT_READ | unix.PROT_WRITE

// TestRemapFilePagesErrors drives the raw call into each EINVAL the kernel documents.
func TestRemapFilePagesErrors(t *testing.T) {
	type call struct {
		addr, size uintptr
		prot       int
		pgoff      uintptr
		flags      int
	}
	ups := uintptr(ps)
	cases := []struct {
		name  string
		setup func(t *testing.T) call
		want  syscall.Errno
	}{
		{"prot PROT_READ", func(t *testing.T) call {
			p := mapShared(t, newFile(t, 4), 4, rw, unix.MAP_SHARED)
			return call{uintptr(p), ups, unix.PROT_READ, 1, 0}
		}, syscall.EINVAL},
		{"prot PROT_READ|PROT_WRITE", func(t *testing.T) call {
			p := mapShared(t, newFile(t, 4), 4, rw, unix.MAP_SHARED)
			return call{uintptr(p), ups, rw, 1, 0}
		}, syscall.EINVAL},
		{"MAP_PRIVATE file mapping", func(t *testing.T) call {
			p := mapShared(t, newFile(t, 4), 4, rw, unix.MAP_PRIVATE)
			return call{uintptr(p), ups, 0, 1, 0}
		}, syscall.EINVAL},
		{"MAP_PRIVATE anonymous mapping", func(t *testing.T) call {
			p := mapShared(t, -1, 4, rw, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
			return call{uintptr(p), ups, 0, 1, 0}
		}, syscall.EINVAL},
		{"MAP_SHARED of an O_RDONLY descriptor", func(t *testing.T) call {
			fd := newFile(t, 4)
			ro, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", fd), unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { unix.Close(ro) })
			p := mapShared(t, ro, 4, unix.PROT_READ, unix.MAP_SHARED)
			return call{uintptr(p), ups, 0, 1, 0}
		}, syscall.EINVAL},
		{"addr outside any mapping", func(t *testing.T) call {
			p, err := unix.MmapPtr(-1, 0, nil, 4*ups, unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
			if err != nil {
				t.Fatal(err)
			}
			unix.MunmapPtr(p, 4*ups) // now a hole
			return call{uintptr(p), ups, 0, 1, 0}
		}, syscall.EINVAL},
		{"range leaving the mapping into a hole", func(t *testing.T) call {
			p := mapShared(t, newFile(t, 4), 3, rw, unix.MAP_SHARED)
			unix.MunmapPtr(unsafe.Add(p, 2*ps), ups) // page 2 becomes a hole
			return call{uintptr(p) + ups, 2 * ups, 0, 0, 0}
		}, syscall.EINVAL},
		{"range leaving the mapping into another open of the file", func(t *testing.T) call {
			fd := newFile(t, 4)
			p := mapShared(t, fd, 4, rw, unix.MAP_SHARED)
			fd2, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", fd), unix.O_RDWR|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { unix.Close(fd2) })
			if _, err := unix.MmapPtr(fd2, 2*ps, unsafe.Add(p, 2*ps), 2*ups, rw, unix.MAP_SHARED|unix.MAP_FIXED); err != nil {
				t.Fatal(err)
			}
			return call{uintptr(p) + ups, 2 * ups, 0, 0, 0}
		}, syscall.EINVAL},
		{"size 0", func(t *testing.T) call {
			p := mapShared(t, newFile(t, 4), 4, rw, unix.MAP_SHARED)
			return call{uintptr(p), 0, 0, 1, 0}
		}, syscall.EINVAL},
		{"size rounds down to 0", func(t *testing.T) call {
			p := mapShared(t, newFile(t, 4), 4, rw, unix.MAP_SHARED)
			return call{uintptr(p), ups - 1, 0, 1, 0}
		}, syscall.EINVAL},
		{"pgoff+pages wraps", func(t *testing.T) call {
			p := mapShared(t, newFile(t, 4), 4, rw, unix.MAP_SHARED)
			return call{uintptr(p), ups, 0, ^uintptr(0), 0}
		}, syscall.EINVAL},
		{"pgoff too large for loff_t", func(t *testing.T) call {
			p := mapShared(t, newFile(t, 4), 4, rw, unix.MAP_SHARED)
			return call{uintptr(p), ups, 0, 1 << 60, 0}
		}, syscall.EOVERFLOW},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := c.setup(t)
			err := RemapFilePages(a.addr, a.size, a.prot, a.pgoff, a.flags)
			if err != c.want {
				t.Fatalf("RemapFilePages = %v, want %v", err, c.want)
			}
			if _, ok := err.(syscall.Errno); !ok {
				t.Fatalf("error %T is not a syscall.Errno", err)
			}
		})
	}
}

// TestRemapFilePagesMoves checks which pages a successful call moves.
func TestRemapFilePagesMoves(t *testing.T) {
	ups := uintptr(ps)
	cases := []struct {
		name        string
		addr, size  uintptr // offsets/sizes relative to the mapping start
		pgoff       uintptr
		flags       int
		want        []int64
		wantSameVMA bool
	}{
		{"aligned", ups, 2 * ups, 5, 0, []int64{0, 5, 6, 3}, false},
		{"unaligned addr and size round down", ups + 100, 2*ups + 50, 5, 0, []int64{0, 5, 6, 3}, false},
		{"size just under two pages moves one page", 2 * ups, 2*ups - 1, 7, 0, []int64{0, 1, 7, 3}, false},
		{"MAP_NONBLOCK accepted", 0, ups, 4, unix.MAP_NONBLOCK, []int64{4, 1, 2, 3}, false},
		{"flags ~0 ignored", 0, 4 * ups, 4, ^0, []int64{4, 5, 6, 7}, false},
		{"unknown flags ignored", 0, ups, 6, unix.MAP_PRIVATE | unix.MAP_ANONYMOUS | unix.MAP_FIXED, []int64{6, 1, 2, 3}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fd := newFile(t, 8)
			p := mapShared(t, fd, 4, rw, unix.MAP_SHARED)
			if err := RemapFilePages(uintptr(p)+c.addr, c.size, 0, c.pgoff, c.flags); err != nil {
				t.Fatal(err)
			}
			if got := idsAt(t, p, 4); fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("pages show %v, want %v", got, c.want)
			}
		})
	}
}

// TestRemapFilePagesAliasAndWrites shows one store page at several addresses and checks that
// writes through any of them land in the file.
func TestRemapFilePagesAliasAndWrites(t *testing.T) {
	fd := newFile(t, 4)
	p := mapShared(t, fd, 4, rw, unix.MAP_SHARED)
	for v := uintptr(1); v < 4; v++ {
		if err := RemapFilePages(uintptr(p)+v*uintptr(ps), uintptr(ps), 0, 0, unix.MAP_NONBLOCK); err != nil {
			t.Fatal(err)
		}
	}
	if got := idsAt(t, p, 4); fmt.Sprint(got) != "[0 0 0 0]" {
		t.Fatalf("pages show %v, want [0 0 0 0]", got)
	}
	copy(mem(p, 2*ps, int(ps)), pageContent(41)) // write through view page 2
	if got := idsAt(t, p, 4); fmt.Sprint(got) != "[41 41 41 41]" {
		t.Fatalf("after writing through page 2, pages show %v, want [41 41 41 41]", got)
	}
	buf := make([]byte, ps)
	if _, err := unix.Pread(fd, buf, 0); err != nil {
		t.Fatal(err)
	}
	if id := pageID(t, buf); id != 41 {
		t.Fatalf("file page 0 holds %d, want 41", id)
	}
	// And the other way: pwrite to the file shows at every alias.
	if _, err := unix.Pwrite(fd, pageContent(9), 0); err != nil {
		t.Fatal(err)
	}
	if got := idsAt(t, p, 4); fmt.Sprint(got) != "[9 9 9 9]" {
		t.Fatalf("after pwrite, pages show %v, want [9 9 9 9]", got)
	}
}

// TestRemapFilePagesPastEOF: the kernel does not check pgoff against the file size. The page
// is not touched (it would SIGBUS); /proc/self/maps proves the mapping.
func TestRemapFilePagesPastEOF(t *testing.T) {
	fd := newFile(t, 2)
	p := mapShared(t, fd, 2, rw, unix.MAP_SHARED)
	if err := RemapFilePages(uintptr(p)+uintptr(ps), uintptr(ps), 0, 100, unix.MAP_NONBLOCK); err != nil {
		t.Fatalf("remap to a page past EOF: %v", err)
	}
	if got, want := mapsOffset(t, unsafe.Add(p, ps)), fmt.Sprintf("%08x", 100*ps); got != want {
		t.Fatalf("maps offset of view page 1 = %s, want %s", got, want)
	}
	if id := idsAt(t, p, 1)[0]; id != 0 { // page 0 still readable
		t.Fatalf("page 0 shows %d", id)
	}
}

// TestRemapFilePagesVMAs: every run becomes one VMA; restoring the identity merges them back.
func TestRemapFilePagesVMAs(t *testing.T) {
	const n = 8
	fd := newFile(t, n)
	p := mapShared(t, fd, n, rw, unix.MAP_SHARED)
	if got := len(vmaLines(t, p, n)); got != 1 {
		t.Fatalf("linear mapping: %d VMAs, want 1", got)
	}
	for v, f := range reverse(n) {
		if err := RemapFilePages(uintptr(p)+uintptr(int64(v)*ps), uintptr(ps), 0, uintptr(f), unix.MAP_NONBLOCK); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(vmaLines(t, p, n)); got != n {
		t.Fatalf("reversed: %d VMAs, want %d:\n%v", got, n, vmaLines(t, p, n))
	}
	if got := idsAt(t, p, n); fmt.Sprint(got) != fmt.Sprint(reverse(n)) {
		t.Fatalf("reversed view shows %v", got)
	}
	for v := range n {
		if err := RemapFilePages(uintptr(p)+uintptr(int64(v)*ps), uintptr(ps), 0, uintptr(v), unix.MAP_NONBLOCK); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(vmaLines(t, p, n)); got != 1 {
		t.Fatalf("restored identity: %d VMAs, want 1 (merged):\n%v", got, vmaLines(t, p, n))
	}
	// A whole-range call spanning the pieces works too (they are the same open file).
	if err := RemapFilePages(uintptr(p), uintptr(n*ps), 0, 0, 0); err != nil {
		t.Fatal(err)
	}
}

// TestRemapFilePagesSharedAnonymous records a kernel fact the docs get wrong: a MAP_SHARED
// anonymous mapping is shmem-backed, so remap_file_pages works on it.
func TestRemapFilePagesSharedAnonymous(t *testing.T) {
	p := mapShared(t, -1, 4, rw, unix.MAP_SHARED|unix.MAP_ANONYMOUS)
	copy(mem(p, 3*ps, int(ps)), pageContent(3))
	if err := RemapFilePages(uintptr(p), uintptr(ps), 0, 3, 0); err != nil {
		t.Fatalf("remap in a shared anonymous mapping: %v", err)
	}
	if got := idsAt(t, p, 4); fmt.Sprint(got) != "[3 -1 -1 3]" {
		t.Fatalf("pages show %v", got)
	}
}

func TestPageSize(t *testing.T) {
	if PageSize() != int64(os.Getpagesize()) || PageSize()&(PageSize()-1) != 0 {
		t.Fatalf("PageSize() = %d", PageSize())
	}
}

func TestParseBackend(t *testing.T) {
	for _, s := range []string{"auto", "remap", "mmap", "gather"} {
		if b, err := ParseBackend(s); err != nil || string(b) != s {
			t.Errorf("ParseBackend(%q) = %q, %v", s, b, err)
		}
	}
	_, err := ParseBackend("x")
	if err == nil || err.Error() != `unknown backend "x" (want auto, remap, mmap or gather)` {
		t.Errorf("ParseBackend(x) error = %v", err)
	}
	if _, err := New(Options{Backend: "bogus"}); err == nil {
		t.Error("New with a bogus backend succeeded")
	}
}
