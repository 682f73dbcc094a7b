package remapper

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Kernel is what a Store asks of the kernel where the answer can be a refusal that is no fault
// of nlfs: remap_file_pages refused by a sandbox, mmap at the VMA limit, a store that cannot
// grow. Options.Kernel nil means the kernel itself (LinuxKernel); tests pass one that fails
// the calls they choose, to prove that every refusal is handled. The Store holds it from
// NewStore on and calls it from any goroutine.
type Kernel interface {
	// Mmap is mmap(2), as unix.MmapPtr: every mapping a Store makes (its store mapping,
	// views, the probe's scratch mapping).
	Mmap(fd int, off int64, addr unsafe.Pointer, length uintptr, prot, flags int) (unsafe.Pointer, error)
	// RemapFilePages is remap_file_pages(2), as the package's RemapFilePages.
	RemapFilePages(addr, size uintptr, prot int, pgoff uintptr, flags int) error
	// Pwrite is pwrite(2) into the store file: how pages that do not exist yet are written
	// (the write allocates them, and reports a store that cannot grow).
	Pwrite(fd int, p []byte, off int64) (int, error)
	// CopyIn copies src into dst, store pages that exist, through the store's mapping: a
	// write into the store without a system call. The kernel's never fails; a test's may,
	// standing for a store that refuses every write.
	CopyIn(dst, src []byte) (int, error)
	// MaxMapCount reads vm.max_map_count, the kernel's limit on a process's VMAs.
	MaxMapCount() (int64, error)
}

// LinuxKernel is the Kernel of Linux itself: each method makes the call it names.
type LinuxKernel struct{}

// Mmap is unix.MmapPtr.
func (LinuxKernel) Mmap(fd int, off int64, addr unsafe.Pointer, length uintptr, prot, flags int) (unsafe.Pointer, error) {
	return unix.MmapPtr(fd, off, addr, length, prot, flags)
}

// RemapFilePages is the package's RemapFilePages.
func (LinuxKernel) RemapFilePages(addr, size uintptr, prot int, pgoff uintptr, flags int) error {
	return RemapFilePages(addr, size, prot, pgoff, flags)
}

// Pwrite is unix.Pwrite.
func (LinuxKernel) Pwrite(fd int, p []byte, off int64) (int, error) { return unix.Pwrite(fd, p, off) }

// CopyIn is copy.
func (LinuxKernel) CopyIn(dst, src []byte) (int, error) { return copy(dst, src), nil }

// MaxMapCount reads /proc/sys/vm/max_map_count.
func (LinuxKernel) MaxMapCount() (int64, error) {
	return readIntFile("/proc/sys/vm/max_map_count")
}
