package remapper

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/nlfs/nlfs/run"
)

// CopyRuns writes to dst the view that runs make of the file src, without mapping a view:
// each run's store pages in order, as a mapped view would read. It is the offline remapping
// (nlfs apply), and its speed is the copy's. A layout of long runs only (the identity, a
// rotation) goes through the kernel alone: copy_file_range between files, sendfile into
// anything else. A layout with short runs reads the source once, in order, into an anonymous
// buffer of transparent huge pages (bufferSource) and writes the view from it with writev,
// up to IOV_MAX pieces a call; a source larger than bufferLimit is gathered from a read-only
// mapping of it instead, long runs still copied by the kernel. The bytes of the last store
// page past srcSize read as zeros, as do store pages past it (a parsed layout has none).
// progress, if not nil, is told the bytes written so far, now and then.
func CopyRuns(dst, src *os.File, srcSize int64, runs []run.Run, progress func(written int64)) (int64, error) {
	c := copier{dst: int(dst.Fd()), src: int(src.Fd()), size: srcSize, progress: progress}
	defer c.release()
	var fi unix.Stat_t
	if err := unix.Fstat(c.dst, &fi); err == nil && fi.Mode&unix.S_IFMT == unix.S_IFREG {
		c.dstIsFile = true
	}
	if hasShortRun(runs, srcSize) && srcSize <= bufferLimit() {
		if err := c.bufferSource(); err != nil {
			return 0, err
		}
	}
	for _, r := range runs {
		if err := c.run(r.File*pageSize, r.Count*pageSize); err != nil {
			return c.written, err
		}
	}
	if err := c.flush(); err != nil {
		return c.written, err
	}
	return c.written, nil
}

// directCopy is the run length from which a run is copied by the kernel alone rather than
// gathered: below it the system call per run costs more than the copy it saves.
const directCopy = 256 << 10

// copier is the state of one CopyRuns.
type copier struct {
	dst, src  int
	dstIsFile bool
	size      int64
	mem       []byte   // the source: its read-only mapping, or the buffer holding it
	buffered  bool     // mem is the buffer (bufferSource): every run is gathered from it
	unmap     []byte   // what release unmaps: the mapping, or the buffer with its margin
	iov       [][]byte // pieces gathered for the next writev
	pending   int64    // bytes in iov
	written   int64
	progress  func(int64)
	reported  int64
}

// run copies n bytes of the source from off.
func (c *copier) run(off, n int64) error {
	inside := max(0, min(n, c.size-off))
	if inside >= directCopy && !c.buffered {
		if err := c.flush(); err != nil {
			return err
		}
		if err := c.direct(off, inside); err != nil {
			return err
		}
	} else if inside > 0 {
		if c.mem == nil {
			// The short runs read the source in any order: map all of it, its page tables
			// filled in one go.
			mapped, err := unix.Mmap(c.src, 0, int(c.size), unix.PROT_READ, unix.MAP_SHARED|unix.MAP_POPULATE)
			if err != nil {
				return fmt.Errorf("map the source: %w", err)
			}
			c.mem, c.unmap = mapped, mapped
		}
		c.gather(c.mem[off : off+inside])
	}
	for z := n - inside; z > 0; {
		k := min(z, int64(len(zeros)))
		c.gather(zeros[:k])
		z -= k
	}
	if len(c.iov) >= 1024 || c.pending >= 8<<20 {
		return c.flush()
	}
	return nil
}

// hasShortRun tells whether a run of runs shows fewer than directCopy bytes of the source.
func hasShortRun(runs []run.Run, size int64) bool {
	for _, r := range runs {
		if inside := min(r.Count*pageSize, size-r.File*pageSize); inside > 0 && inside < directCopy {
			return true
		}
	}
	return false
}

// gather adds b to the next writev, merged into the last piece when it continues it.
func (c *copier) gather(b []byte) {
	if k := len(c.iov); k > 0 {
		last := c.iov[k-1]
		if unsafe.Add(unsafe.Pointer(unsafe.SliceData(last)), len(last)) == unsafe.Pointer(unsafe.SliceData(b)) {
			c.iov[k-1] = unsafe.Slice(unsafe.SliceData(last), len(last)+len(b))
			c.pending += int64(len(b))
			return
		}
	}
	c.iov = append(c.iov, b)
	c.pending += int64(len(b))
}

// flush writes what was gathered.
func (c *copier) flush() error {
	for len(c.iov) > 0 {
		n, err := unix.Writev(c.dst, c.iov)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("write the view: %w", err)
		}
		c.advance(int64(n))
		for n > 0 {
			if k := len(c.iov[0]); n >= k {
				n -= k
				c.iov = c.iov[1:]
			} else {
				c.iov[0] = c.iov[0][n:]
				n = 0
			}
		}
	}
	c.iov, c.pending = c.iov[:0], 0
	return nil
}

// direct copies n source bytes from off with the kernel alone: copy_file_range into a file
// (shared extents or an in-kernel copy), else sendfile (into a pipe, a socket, a terminal).
func (c *copier) direct(off, n int64) error {
	for n > 0 {
		var k int
		var err error
		if c.dstIsFile {
			soff := off
			k, err = unix.CopyFileRange(c.src, &soff, c.dst, nil, int(n), 0)
			if errors.Is(err, syscall.EXDEV) || errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.EOPNOTSUPP) {
				c.dstIsFile = false // not between these two: sendfile does it
				continue
			}
		} else {
			soff := off
			k, err = unix.Sendfile(c.dst, c.src, &soff, int(min(n, 1<<30)))
		}
		if err == syscall.EINTR || err == syscall.EAGAIN {
			continue
		}
		if err != nil {
			return fmt.Errorf("copy the view: %w", err)
		}
		if k == 0 {
			return fmt.Errorf("copy the view: the source ended at %d: %w", off, syscall.EIO)
		}
		off, n = off+int64(k), n-int64(k)
		c.advance(int64(k))
	}
	return nil
}

func (c *copier) advance(n int64) {
	c.written += n
	if c.progress != nil && c.written-c.reported >= 16<<20 {
		c.reported = c.written
		c.progress(c.written)
	}
}

// The source of an offline remapping with short runs (CopyRuns) is read into memory whole,
// then the view is written from there. Gathering the pages straight from a mapping of the
// source costs the kernel's first touch of each 4 KiB page of that mapping: on a VM with
// paravirtualized or shadowed page tables, several microseconds a page, which made a shuffle
// of 512 MiB cost four copies of it. An anonymous buffer advised MADV_HUGEPAGE is filled by
// read, in order, with one fault per 2 MiB. It costs memory the size of the source, for as
// long as the copy runs; so a source is buffered only up to bufferLimit.

// hugePage is the size of a transparent huge page on x86_64 and arm64 with 4 KiB pages.
const hugePage = 2 << 20

// bufferLimit is the largest source that CopyRuns reads into memory: a quarter of physical
// memory, and at most half of what is available now (MemAvailable). A variable, so that tests
// can take the path for larger sources.
var bufferLimit = func() int64 {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return 0
	}
	limit := int64(si.Totalram) * int64(si.Unit) / 4
	if avail, ok := memAvailable(); ok {
		limit = min(limit, avail/2)
	}
	return limit
}

// memAvailable is the kernel's estimate of the memory that can be had without swapping.
func memAvailable() (int64, bool) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	for sc := bufio.NewScanner(f); sc.Scan(); {
		if rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("MemAvailable:")); ok {
			kb, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(rest), []byte("kB")))), 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}

// bufferSource reads the whole source into a fresh anonymous buffer of transparent huge pages
// and makes it c.mem; the bytes past the source's end are zeros.
func (c *copier) bufferSource() error {
	n := (c.size + hugePage - 1) &^ (hugePage - 1)
	// One huge page more than needed, to start the buffer on a huge page boundary.
	m, err := unix.Mmap(-1, 0, int(n+hugePage), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return fmt.Errorf("a buffer for the source (%d bytes): %w", n, err)
	}
	c.unmap = m
	skip := (hugePage - uintptr(unsafe.Pointer(unsafe.SliceData(m)))%hugePage) % hugePage
	buf := m[skip : int64(skip)+n]
	// Without huge pages (THP off, or none to be had) the buffer still works, a page at a time.
	_ = unix.Madvise(buf, unix.MADV_HUGEPAGE)
	if err := preadFull(c.src, buf[:c.size], 0); err != nil {
		return fmt.Errorf("read the source: %w", err)
	}
	c.mem, c.buffered = buf, true
	return nil
}

// release unmaps the source's mapping or buffer, if there is one.
func (c *copier) release() {
	if c.unmap != nil {
		unix.Munmap(c.unmap)
		c.unmap, c.mem = nil, nil
	}
}
