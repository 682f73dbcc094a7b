package remapper

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/nlfs/nlfs/run"
)

// CopyRuns writes to dst the view that runs make of the file src, without mapping a view:
// each run's store pages in order, as a mapped view would read. It is the offline remapping
// (nlfs apply), and its speed is the copy's. Long runs go through the kernel alone:
// copy_file_range between files, sendfile into anything else. Short runs are gathered from a
// read-only mapping of src, its page tables filled in one go (MAP_POPULATE), by
// process_vm_readv into a buffer of a few MiB that is then written out: the kernel copies the
// pages through its own mapping of them, so no page of the source is ever touched through
// this process's mapping, a first touch that costs several microseconds a page on a VM with
// shadowed page tables. Where process_vm_readv is refused (a seccomp filter), the pieces go
// to writev straight from the mapping, up to IOV_MAX a call. Memory stays bounded whatever the
// size. The bytes of the last store page past srcSize read as zeros, as do store pages past
// it (a parsed layout has none). progress, if not nil, is told the bytes written so far, now
// and then.
func CopyRuns(dst, src *os.File, srcSize int64, runs []run.Run, progress func(written int64)) (int64, error) {
	c := copier{dst: int(dst.Fd()), src: int(src.Fd()), size: srcSize, progress: progress, readv: useReadv}
	defer func() {
		if c.mem != nil {
			unix.Munmap(c.mem)
		}
	}()
	var fi unix.Stat_t
	if err := unix.Fstat(c.dst, &fi); err == nil && fi.Mode&unix.S_IFMT == unix.S_IFREG {
		c.dstIsFile = true
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
	mem       []byte   // read-only mapping of the source
	iov       [][]byte // pieces gathered for the next flush (of mem, or of zeros)
	pending   int64    // bytes in iov
	readv     bool     // flush through process_vm_readv and buf (until it is refused)
	buf       []byte   // where process_vm_readv copies the pieces to
	remote    []unix.RemoteIovec
	written   int64
	progress  func(int64)
	reported  int64
}

// run copies n bytes of the source from off.
func (c *copier) run(off, n int64) error {
	inside := max(0, min(n, c.size-off))
	if inside >= directCopy {
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
			c.mem = mapped
		}
		c.gather(c.mem[off : off+inside])
	}
	for z := n - inside; z > 0; {
		k := min(z, int64(len(zeros)))
		c.gather(zeros[:k])
		z -= k
	}
	if len(c.iov) >= iovMax || c.pending >= copyBuffer {
		return c.flush()
	}
	return nil
}

// useReadv is whether CopyRuns starts with process_vm_readv; tests turn it off to take the
// writev path that serves where it is refused.
var useReadv = true

// iovMax is the most pieces one writev or process_vm_readv takes (IOV_MAX); copyBuffer the
// size of the buffer process_vm_readv copies into, written out at each flush.
const (
	iovMax     = 1024
	copyBuffer = 4 << 20
)

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

// flush writes what was gathered: copied by process_vm_readv into buf and written from there,
// or, where that is refused, written by writev straight from where the pieces are.
func (c *copier) flush() error {
	if c.readv && len(c.iov) > 0 {
		err := c.flushReadv()
		if err == nil || !(errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.ENOSYS)) {
			return err
		}
		c.readv = false // a seccomp filter, or a kernel without it: nothing was written yet
	}
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

// flushReadv writes the gathered pieces a buffer at a time: process_vm_readv from this very
// process copies them into buf, through the kernel's own mapping of their pages, then one
// write puts buf out. An error from process_vm_readv is returned bare, so that flush can fall
// back.
func (c *copier) flushReadv() error {
	if c.buf == nil {
		c.buf = make([]byte, copyBuffer)
	}
	for len(c.iov) > 0 {
		// The pieces that fill buf, the last one cut to fit; c.iov keeps them until they
		// are written, so that a refusal leaves them for writev.
		c.remote = c.remote[:0]
		filled, i := 0, 0
		var rest []byte // what is left of piece i-1 when it was cut
		for i < len(c.iov) && filled < len(c.buf) && len(c.remote) < iovMax {
			p := c.iov[i]
			k := min(len(p), len(c.buf)-filled)
			c.remote = append(c.remote, unix.RemoteIovec{Base: uintptr(unsafe.Pointer(unsafe.SliceData(p))), Len: k})
			filled += k
			i++
			if k < len(p) {
				rest = p[k:]
			}
		}
		local := []unix.Iovec{{Base: unsafe.SliceData(c.buf)}}
		local[0].SetLen(filled)
		n, err := unix.ProcessVMReadv(os.Getpid(), local, c.remote, 0)
		if err != nil {
			return err
		}
		if n != filled {
			return fmt.Errorf("gather the view: process_vm_readv copied %d of %d bytes: %w", n, filled, syscall.EIO)
		}
		if err := c.write(c.buf[:filled]); err != nil {
			return err
		}
		if c.iov = c.iov[i:]; rest != nil {
			c.iov = append([][]byte{rest}, c.iov...)
		}
	}
	c.iov, c.pending = c.iov[:0], 0
	return nil
}

// write writes all of b to the output.
func (c *copier) write(b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(c.dst, b)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("write the view: %w", err)
		}
		c.advance(int64(n))
		b = b[n:]
	}
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
