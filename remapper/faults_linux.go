package remapper

import (
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// Fault injection for the tests of the layers above (fs, cmd/nlfs), which cannot reach this
// package's seams (the unexported variables remapFilePages, mmapPtr, pwrite, readMaxMapCount).
// Production code never calls anything here; with nothing armed the hooks pass every call
// through unchanged.

// FaultOp names a kernel operation of a Store that a test can make fail.
type FaultOp string

// The operations a Fault can target.
const (
	FaultRemap  FaultOp = "remap_file_pages"
	FaultMmap   FaultOp = "mmap"
	FaultPwrite FaultOp = "pwrite" // every write into the store (data; view under gather, or into pages not yet written), by pwrite or by copy into existing pages
)

// Fault makes calls of Op fail with Errno: after Skip calls pass, the next Count fail (Count < 0:
// every later call fails).
type Fault struct {
	Op    FaultOp
	Errno syscall.Errno
	Skip  int
	Count int
}

var faults struct {
	once     sync.Once
	mu       sync.Mutex
	armed    atomic.Int32 // faults armed, or a pretended max_map_count: the slow path is needed
	byOp     map[FaultOp]*Fault
	maxMap   int64 // pretended vm.max_map_count; 0: the real one
	injected atomic.Int64
}

// EnableFaultInjection routes the Store's kernel calls through hooks that SetFault and
// PretendMaxMapCount control. It replaces package-level seams, so call it before any Store is
// in use by other goroutines (a test's init or TestMain); calling it again does nothing.
func EnableFaultInjection() {
	faults.once.Do(func() {
		faults.byOp = map[FaultOp]*Fault{}
		realRemap, realMmap, realPwrite, realMax := remapFilePages, mmapPtr, pwrite, readMaxMapCount
		remapFilePages = func(addr, size uintptr, prot int, pgoff uintptr, flags int) error {
			if errno := takeFault(FaultRemap); errno != 0 {
				return errno
			}
			return realRemap(addr, size, prot, pgoff, flags)
		}
		mmapPtr = func(fd int, off int64, addr unsafe.Pointer, length uintptr, prot, flags int) (unsafe.Pointer, error) {
			if errno := takeFault(FaultMmap); errno != 0 {
				return nil, errno
			}
			return realMmap(fd, off, addr, length, prot, flags)
		}
		pwrite = func(fd int, p []byte, off int64) (int, error) {
			if errno := takeFault(FaultPwrite); errno != 0 {
				return 0, errno
			}
			return realPwrite(fd, p, off)
		}
		realCopyIn := copyIn
		copyIn = func(dst, src []byte) (int, error) {
			if errno := takeFault(FaultPwrite); errno != 0 {
				return 0, errno
			}
			return realCopyIn(dst, src)
		}
		readMaxMapCount = func() (int64, error) {
			if faults.armed.Load() != 0 {
				faults.mu.Lock()
				n := faults.maxMap
				faults.mu.Unlock()
				if n > 0 {
					return n, nil
				}
			}
			return realMax()
		}
	})
}

func takeFault(op FaultOp) syscall.Errno {
	if faults.armed.Load() == 0 {
		return 0
	}
	faults.mu.Lock()
	defer faults.mu.Unlock()
	f := faults.byOp[op]
	if f == nil {
		return 0
	}
	if f.Skip > 0 {
		f.Skip--
		return 0
	}
	if f.Count == 0 {
		return 0
	}
	if f.Count > 0 {
		f.Count--
	}
	faults.injected.Add(1)
	return f.Errno
}

// SetFault arms f, replacing any fault armed for f.Op, and returns the function that disarms
// it. EnableFaultInjection must have been called.
func SetFault(f Fault) (disarm func()) {
	faults.mu.Lock()
	defer faults.mu.Unlock()
	if faults.byOp == nil {
		panic("remapper: SetFault without EnableFaultInjection")
	}
	if faults.byOp[f.Op] == nil {
		faults.armed.Add(1)
	}
	armed := &f
	faults.byOp[f.Op] = armed
	return func() {
		faults.mu.Lock()
		defer faults.mu.Unlock()
		if faults.byOp[f.Op] == armed {
			delete(faults.byOp, f.Op)
			faults.armed.Add(-1)
		}
	}
}

// PretendMaxMapCount makes the Store believe vm.max_map_count is n, so that its VMA budget lets
// a layout run into the kernel's real limit; it returns the function that stops pretending.
func PretendMaxMapCount(n int64) (restore func()) {
	faults.mu.Lock()
	defer faults.mu.Unlock()
	if faults.byOp == nil {
		panic("remapper: PretendMaxMapCount without EnableFaultInjection")
	}
	faults.maxMap = n
	faults.armed.Add(1)
	return func() {
		faults.mu.Lock()
		defer faults.mu.Unlock()
		faults.maxMap = 0
		faults.armed.Add(-1)
	}
}

// FaultsInjected returns how many calls have failed by injection since the process started.
func FaultsInjected() int64 { return faults.injected.Load() }
