package remapper

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// RemapFilePages is the raw remap_file_pages(2) system call; neither the standard library nor
// x/sys wraps it. The kernel's rules stand: prot must be 0; addr and size are rounded down to
// page multiples and a size that rounds to 0 is EINVAL; flags other than MAP_NONBLOCK are
// ignored; addr must lie in a MAP_SHARED mapping of a file opened read-write and the range must
// not leave that mapping. pgoff is not checked against the file size: a page past EOF faults
// with SIGBUS when touched. The error, if any, is a syscall.Errno.
func RemapFilePages(addr, size uintptr, prot int, pgoff uintptr, flags int) error {
	_, _, e := unix.Syscall6(unix.SYS_REMAP_FILE_PAGES, addr, size, uintptr(prot), pgoff, uintptr(flags), 0)
	if e != 0 {
		return e
	}
	return nil
}

var pageSize = int64(os.Getpagesize())

// PageSize returns the size of a page (and so of a view or store page) in bytes.
func PageSize() int64 { return pageSize }

func readIntFile(name string) (int64, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	return v, nil
}

// readMaps returns the contents of /proc/self/maps.
func readMaps() ([]byte, error) { return os.ReadFile("/proc/self/maps") }

// countVMAs returns the number of VMAs the process holds now.
func countVMAs() (int64, error) {
	b, err := readMaps()
	if err != nil {
		return 0, err
	}
	return int64(bytes.Count(b, []byte{'\n'})), nil
}

// mapsLinesIn returns the lines of maps whose range overlaps [start, end).
func mapsLinesIn(maps []byte, start, end uintptr) []string {
	var out []string
	if start >= end {
		return nil
	}
	for len(maps) > 0 {
		line := maps
		if i := bytes.IndexByte(maps, '\n'); i >= 0 {
			line, maps = maps[:i], maps[i+1:]
		} else {
			maps = nil
		}
		lo, hi, ok := parseMapsRange(line)
		if ok && lo < end && hi > start {
			out = append(out, string(line))
		}
	}
	return out
}

// parseMapsRange parses the "start-end" field that opens a /proc/self/maps line.
func parseMapsRange(line []byte) (lo, hi uintptr, ok bool) {
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		return 0, 0, false
	}
	dash := bytes.IndexByte(line[:sp], '-')
	if dash < 0 {
		return 0, 0, false
	}
	a, err1 := strconv.ParseUint(string(line[:dash]), 16, 64)
	b, err2 := strconv.ParseUint(string(line[dash+1:sp]), 16, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return uintptr(a), uintptr(b), true
}

// pwriteFull writes all of p at off with k's pwrite, retrying short writes and EINTR.
func pwriteFull(k Kernel, fd int, p []byte, off int64) (int, error) {
	done := 0
	for done < len(p) {
		n, err := k.Pwrite(fd, p[done:], off+int64(done))
		if err == syscall.EINTR {
			continue
		}
		if n > 0 {
			done += n
		}
		if err != nil {
			return done, err
		}
		if n == 0 {
			return done, syscall.EIO
		}
	}
	return done, nil
}

// mem returns the bytes at [base+off, base+off+n) of a mapping.
func mem(base unsafe.Pointer, off int64, n int) []byte {
	return unsafe.Slice((*byte)(unsafe.Add(base, off)), n)
}
