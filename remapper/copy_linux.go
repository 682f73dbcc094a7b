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
// process_vm_readv into buffers of a few MiB, each written out by a goroutine of its own while
// the next is gathered (two CPUs do both at once): the kernel copies the
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
		c.stopWriter()
		if c.mem != nil {
			unix.Munmap(c.mem)
		}
	}()
	var fi unix.Stat_t
	if err := unix.Fstat(c.dst, &fi); err == nil && fi.Mode&unix.S_IFMT == unix.S_IFREG {
		c.dstIsFile = true
	}
	// The mapping of the source for short runs reaches as far as the runs read, not to its end:
	// four pages of a 64 GiB file must not fill the page tables of all of it.
	for _, r := range runs {
		c.reach = max(c.reach, min(srcSize, (r.File+r.Count)*pageSize))
	}
	for _, r := range runs {
		if err := c.run(r.File*pageSize, r.Count*pageSize); err != nil {
			return c.written, err
		}
	}
	if err := c.flush(true); err != nil {
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
	reach     int64    // the end of the last source byte a run reads
	mem       []byte   // read-only mapping of the source, to reach
	iov       [][]byte // pieces gathered for the next flush (of mem, or of zeros)
	pending   int64    // bytes in iov
	readv     bool     // flush through process_vm_readv and buffers (until it is refused)
	remote    []unix.RemoteIovec
	spare     [][]byte    // buffers for process_vm_readv to fill
	todo      chan []byte // filled buffers, to the writer goroutine (nil until started)
	back      chan wrote  // each buffer back from it once written
	inflight  int         // buffers sent to the writer and not back yet
	written   int64
	progress  func(int64)
	reported  int64
}

// run copies n bytes of the source from off.
func (c *copier) run(off, n int64) error {
	inside := max(0, min(n, c.size-off))
	if inside >= directCopy {
		if err := c.flush(true); err != nil {
			return err
		}
		if err := c.direct(off, inside); err != nil {
			return err
		}
	} else if inside > 0 {
		if c.mem == nil {
			// The short runs read the source in any order: map all they read, its page
			// tables filled in one go.
			mapped, err := unix.Mmap(c.src, 0, int(c.reach), unix.PROT_READ, unix.MAP_SHARED|unix.MAP_POPULATE)
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
		return c.flush(false)
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
		// Compared as numbers: a pointer just past an allocation is not one to make.
		if uintptr(unsafe.Pointer(unsafe.SliceData(last)))+uintptr(len(last)) == uintptr(unsafe.Pointer(unsafe.SliceData(b))) {
			c.iov[k-1] = unsafe.Slice(unsafe.SliceData(last), len(last)+len(b))
			c.pending += int64(len(b))
			return
		}
	}
	c.iov = append(c.iov, b)
	c.pending += int64(len(b))
}

// flush writes what was gathered: copied by process_vm_readv into buffers that the writer
// goroutine writes, or, where that is refused, by writev straight from where the pieces are.
// With sync, it returns once every byte is written (before a direct copy, which writes at the
// file's offset, and at the end).
func (c *copier) flush(sync bool) error {
	if c.readv && len(c.iov) > 0 {
		err := c.flushReadv()
		if err == nil || !(errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.ENOSYS)) || c.todo != nil {
			if err == nil && sync {
				err = c.drain()
			}
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
	if sync {
		return c.drain()
	}
	return nil
}

// flushReadv hands the gathered pieces to the writer a buffer at a time: process_vm_readv from
// this very process copies them into the buffer, through the kernel's own mapping of their
// pages. An error from process_vm_readv is returned bare, so that flush can fall back.
func (c *copier) flushReadv() error {
	for len(c.iov) > 0 {
		buf, err := c.freeBuffer()
		if err != nil {
			return err
		}
		// The pieces that fill buf, the last one cut to fit; c.iov keeps them until they
		// are copied, so that a refusal leaves them for writev.
		c.remote = c.remote[:0]
		filled, i := 0, 0
		var rest []byte // what is left of piece i-1 when it was cut
		for i < len(c.iov) && filled < len(buf) && len(c.remote) < iovMax {
			p := c.iov[i]
			k := min(len(p), len(buf)-filled)
			c.remote = append(c.remote, unix.RemoteIovec{Base: uintptr(unsafe.Pointer(unsafe.SliceData(p))), Len: k})
			filled += k
			i++
			if k < len(p) {
				rest = p[k:]
			}
		}
		local := []unix.Iovec{{Base: unsafe.SliceData(buf)}}
		local[0].SetLen(filled)
		n, err := unix.ProcessVMReadv(os.Getpid(), local, c.remote, 0)
		if err != nil {
			c.spare = append(c.spare, buf)
			return err
		}
		if n != filled {
			return fmt.Errorf("gather the view: process_vm_readv copied %d of %d bytes: %w", n, filled, syscall.EIO)
		}
		c.send(buf[:filled])
		if c.iov = c.iov[i:]; rest != nil {
			c.iov = append([][]byte{rest}, c.iov...)
		}
	}
	c.iov, c.pending = c.iov[:0], 0
	return nil
}

// wrote is a buffer back from the writer goroutine, with the error of its write.
type wrote struct {
	buf []byte
	err error
}

// buffers is how many buffers process_vm_readv and the writer pass between them: one filled
// while the other is written.
const buffers = 2

// freeBuffer returns a buffer to fill: a new one while there are fewer than buffers, else the
// next one the writer is done with.
func (c *copier) freeBuffer() ([]byte, error) {
	if n := len(c.spare); n > 0 {
		buf := c.spare[n-1]
		c.spare = c.spare[:n-1]
		return buf[:cap(buf)], nil
	}
	if c.inflight < buffers {
		return make([]byte, copyBuffer), nil
	}
	w := <-c.back
	c.inflight--
	if w.err != nil {
		return nil, w.err
	}
	c.advance(int64(len(w.buf)))
	return w.buf[:cap(w.buf)], nil
}

// send gives a filled buffer to the writer goroutine, started on first use.
func (c *copier) send(buf []byte) {
	if c.todo == nil {
		c.todo, c.back = make(chan []byte, buffers), make(chan wrote, buffers)
		go func(dst int, todo <-chan []byte, back chan<- wrote) {
			var err error
			for b := range todo {
				if err == nil { // after a failure the rest is not written
					err = writeAll(dst, b)
				}
				back <- wrote{b, err}
			}
		}(c.dst, c.todo, c.back)
	}
	c.todo <- buf
	c.inflight++
}

// drain waits until the writer has written every buffer sent.
func (c *copier) drain() error {
	var first error
	for ; c.inflight > 0; c.inflight-- {
		w := <-c.back
		if w.err != nil && first == nil {
			first = w.err
		}
		if w.err == nil {
			c.advance(int64(len(w.buf)))
		}
		c.spare = append(c.spare, w.buf)
	}
	return first
}

// stopWriter ends the writer goroutine, once it has written what it was sent.
func (c *copier) stopWriter() {
	if c.todo != nil {
		c.drain()
		close(c.todo)
		c.todo = nil
	}
}

// writeAll writes all of b to fd.
func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("write the view: %w", err)
		}
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
