package fs

import (
	"bytes"
	"strings"
	"sync"
	"syscall"
	"testing"
	"unsafe"

	"github.com/nlfs/nlfs/engine"
	"github.com/nlfs/nlfs/internal/testenv"
	"github.com/nlfs/nlfs/remapper"
)

// faultOp names a call of the store's kernel that a test makes fail.
type faultOp string

const (
	faultRemap faultOp = "remap_file_pages"
	faultMmap  faultOp = "mmap"
	// faultWrite is every write into the store (data; view under gather, or into pages not
	// yet written): by pwrite, or by a copy into pages that exist.
	faultWrite faultOp = "write"
)

// fault makes calls of op fail with errno: after skip calls pass, the next count fail (count
// < 0: every later call).
type fault struct {
	op          faultOp
	errno       syscall.Errno
	skip, count int
}

// faultKernel is the kernel of a test's mount (engine.Options.Kernel): the kernel's own calls,
// but those an armed fault names fail.
type faultKernel struct {
	remapper.LinuxKernel
	mu    sync.Mutex
	armed map[faultOp]*fault // protected by mu
	n     int64              // faults injected; protected by mu
}

// faultMount is testMount with a faultKernel, armed with faults before the store is made.
func faultMount(t *testing.T, opts engine.Options, faults ...fault) (string, *engine.Engine, *faultKernel) {
	t.Helper()
	k := &faultKernel{armed: map[faultOp]*fault{}}
	for _, f := range faults {
		k.arm(f)
	}
	opts.Kernel = k
	mnt, e := testMount(t, opts)
	return mnt, e, k
}

// arm arms f, replacing any fault armed for its op.
func (k *faultKernel) arm(f fault) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.armed[f.op] = &f
}

// disarm lets every call of op through again.
func (k *faultKernel) disarm(op faultOp) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.armed, op)
}

// injected returns how many calls have failed by injection.
func (k *faultKernel) injected() int64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.n
}

// take returns the errno the next call of op fails with, 0 to let it through.
func (k *faultKernel) take(op faultOp) syscall.Errno {
	k.mu.Lock()
	defer k.mu.Unlock()
	f := k.armed[op]
	switch {
	case f == nil || f.count == 0:
		return 0
	case f.skip > 0:
		f.skip--
		return 0
	case f.count > 0:
		f.count--
	}
	k.n++
	return f.errno
}

func (k *faultKernel) RemapFilePages(addr, size uintptr, prot int, pgoff uintptr, flags int) error {
	if errno := k.take(faultRemap); errno != 0 {
		return errno
	}
	return k.LinuxKernel.RemapFilePages(addr, size, prot, pgoff, flags)
}

func (k *faultKernel) Mmap(fd int, off int64, addr unsafe.Pointer, length uintptr, prot, flags int) (unsafe.Pointer, error) {
	if errno := k.take(faultMmap); errno != 0 {
		return nil, errno
	}
	return k.LinuxKernel.Mmap(fd, off, addr, length, prot, flags)
}

func (k *faultKernel) Pwrite(fd int, p []byte, off int64) (int, error) {
	if errno := k.take(faultWrite); errno != 0 {
		return 0, errno
	}
	return k.LinuxKernel.Pwrite(fd, p, off)
}

func (k *faultKernel) CopyIn(dst, src []byte) (int, error) {
	if errno := k.take(faultWrite); errno != 0 {
		return 0, errno
	}
	return k.LinuxKernel.CopyIn(dst, src)
}

// TestENOSPCReachesWriter: when growing data hits a full store (ENOSPC from
// the kernel, injected at the store's write), the writer gets ENOSPC — dd
// says "No space left on device" —, what was written stays, nothing else
// changes, status says why, and the daemon goes on serving.
func TestENOSPCReachesWriter(t *testing.T) {
	mnt, e, k := faultMount(t, engine.Options{Source: bytes.NewReader(letters(2))})
	k.arm(fault{op: faultWrite, errno: syscall.ENOSPC, count: -1})

	scripts := []string{
		"head -c 8192 /dev/zero | tr '\\0' Z | dd of=data bs=4096 seek=2 conv=notrunc status=none",
		"printf x >> data",
	}
	if status(t, mnt)["backend"] == string(remapper.Gather) {
		// Under gather a view write is a store write too (a mapping
		// backend writes the view's pages in memory, which never grows).
		scripts = append(scripts, "head -c 4096 /dev/zero | dd of=view bs=4096 count=1 conv=notrunc status=none")
	}
	for _, script := range scripts {
		_, err := shErr(mnt, script)
		if err == nil || !strings.Contains(err.Error(), "No space left on device") {
			t.Errorf("%s with the store full: %v, want No space left on device", script, err)
		}
	}
	if got := pageLetters([]byte(sh(t, mnt, "cat data"))); got != "AB" {
		t.Errorf("data after failed writes: %q, want AB", got)
	}
	if got := pageLetters([]byte(sh(t, mnt, "cat view"))); got != "AB" {
		t.Errorf("view after failed writes: %q, want AB", got)
	}
	st := status(t, mnt)
	if st["data_bytes"] != "8192" || !strings.Contains(st["last_error"], "no space left on device") {
		t.Errorf("status after ENOSPC: data_bytes %s, last_error %q", st["data_bytes"], st["last_error"])
	}

	// A big write that fills the store halfway: the first 1 MiB request
	// lands, the second meets ENOSPC. The writer learns it, the first MiB
	// stays (as on a full disk), the rest of the growth is dropped.
	k.arm(fault{op: faultWrite, errno: syscall.ENOSPC, skip: 1, count: -1})
	_, err := shErr(mnt, "head -c 3145728 /dev/zero | tr '\\0' Y | dd of=data bs=1M iflag=fullblock status=none")
	if err == nil || !strings.Contains(err.Error(), "No space left on device") {
		t.Errorf("3 MiB write into a store with 1 MiB left: %v", err)
	}
	if got := e.DataSize(); got != 1<<20 {
		t.Errorf("data after a write cut short by ENOSPC: %d bytes, want the 1 MiB written", got)
	}
	if got := pageLetters([]byte(sh(t, mnt, "cat data"))); got != strings.Repeat("Y", 256) {
		t.Errorf("data after a write cut short by ENOSPC: pages %q", got)
	}
	k.disarm(faultWrite)
	sh(t, mnt, "printf tail >> data")
	if got := e.DataSize(); got != 1<<20+4 {
		t.Errorf("after space came back, append: %d bytes", got)
	}
	t.Logf("%d ENOSPC faults injected", k.injected())
}

// TestRemapRefusedThroughMount: remap_file_pages refused from the start
// (gVisor's ENOSYS, a seccomp EPERM) or only later: the mount serves every
// layout with mmap, says so in status, and the view is never lost.
func TestRemapRefusedThroughMount(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.ENOSYS, syscall.EPERM} {
		t.Run("probe/"+errno.Error(), func(t *testing.T) {
			mnt, _, k := faultMount(t, engine.Options{Source: bytes.NewReader(letters(8))}, fault{op: faultRemap, errno: errno, count: -1})
			sh(t, mnt, "printf '7-0' | dd of=layout status=none")
			if got := pageLetters([]byte(sh(t, mnt, "cat view"))); got != "HGFEDCBA" {
				t.Errorf("view %q, want HGFEDCBA", got)
			}
			st := status(t, mnt)
			if st["backend"] != "mmap" || !strings.Contains(st["backend_reason"], errno.Error()) || st["vmas"] != "8" {
				t.Errorf("status: backend %s (%s), vmas %s", st["backend"], st["backend_reason"], st["vmas"])
			}
			t.Logf("%d faults injected", k.injected())
		})
		t.Run("later/"+errno.Error(), func(t *testing.T) {
			// Only where remap_file_pages works can it start failing.
			testenv.RequireRemapFilePages(t)
			mnt, _, k := faultMount(t, engine.Options{Source: bytes.NewReader(letters(8))})
			sh(t, mnt, "printf '7-0' | dd of=layout status=none")
			if st := status(t, mnt); st["backend"] != "remap" {
				t.Fatalf("remap_file_pages works here, yet the mount does not use it (backend %s, %s)", st["backend"], st["backend_reason"])
			}
			k.arm(fault{op: faultRemap, errno: errno, count: -1})
			sh(t, mnt, "printf '0 2 4 6 1 3 5 7' | dd of=layout status=none")
			if got := pageLetters([]byte(sh(t, mnt, "cat view"))); got != "ACEGBDFH" {
				t.Errorf("view %q, want ACEGBDFH", got)
			}
			st := status(t, mnt)
			if st["backend"] != "mmap" || !strings.Contains(st["backend_reason"], errno.Error()) || st["last_error"] != "none" {
				t.Errorf("status: backend %s (%s), last_error %q", st["backend"], st["backend_reason"], st["last_error"])
			}
			if k.injected() == 0 {
				t.Error("no fault was injected")
			}
			t.Logf("%d faults injected", k.injected())
		})
	}
}

// TestVMALimitThroughMount: ENOMEM from the kernel while a layout is mapped
// (what the VMA limit answers) makes auto serve the layout by gather; a
// forced backend refuses the layout with ENOMEM and keeps the previous view.
func TestVMALimitThroughMount(t *testing.T) {
	t.Run("auto", func(t *testing.T) {
		mnt, _, k := faultMount(t, engine.Options{Source: bytes.NewReader(letters(8))})
		sh(t, mnt, "printf '7-0' | dd of=layout status=none")
		backend := status(t, mnt)["backend"]
		op := faultRemap
		if backend == "mmap" {
			op = faultMmap
		}
		k.arm(fault{op: op, errno: syscall.ENOMEM, skip: 3, count: 1})
		sh(t, mnt, "printf '0 2 4 6 1 3 5 7' | dd of=layout status=none")
		if got := pageLetters([]byte(sh(t, mnt, "cat view"))); got != "ACEGBDFH" {
			t.Errorf("view %q, want ACEGBDFH", got)
		}
		st := status(t, mnt)
		if st["backend"] != "gather" || !strings.Contains(st["backend_reason"], "cannot allocate memory") || st["vmas"] != "0" {
			t.Errorf("status: backend %s (%s), vmas %s", st["backend"], st["backend_reason"], st["vmas"])
		}
		// Writes through the gather view land in the store.
		sh(t, mnt, "head -c 4096 /dev/zero | tr '\\0' z | dd of=view bs=4096 seek=1 conv=notrunc status=none")
		if got := pageLetters([]byte(sh(t, mnt, "cat data"))); got != "AB"+"z"+"DEFGH" {
			t.Errorf("data after a write to view page 1 (store page 2): %q", got)
		}
		if k.injected() != 1 {
			t.Errorf("%d faults injected, want 1", k.injected())
		}
	})
	for _, b := range []remapper.Backend{remapper.Remap, remapper.MMap} {
		t.Run(string(b), func(t *testing.T) {
			mnt, _, k := faultMount(t, engine.Options{Source: bytes.NewReader(letters(8)), Backend: b})
			sh(t, mnt, "printf '7-0' | dd of=layout status=none")
			op := faultRemap
			if b == remapper.MMap {
				op = faultMmap
			}
			k.arm(fault{op: op, errno: syscall.ENOMEM, skip: 3, count: 1})
			_, err := shErr(mnt, "printf '0 2 4 6 1 3 5 7' | dd of=layout status=none")
			if err == nil || !strings.Contains(err.Error(), "Cannot allocate memory") {
				t.Errorf("layout write at the VMA limit: %v, want Cannot allocate memory", err)
			}
			if got := pageLetters([]byte(sh(t, mnt, "cat view"))); got != "HGFEDCBA" {
				t.Errorf("view %q, want the previous HGFEDCBA", got)
			}
			if got := sh(t, mnt, "cat layout"); got != "7-0\n" {
				t.Errorf("layout %q, want the previous 7-0", got)
			}
			st := status(t, mnt)
			if st["generation"] != "1" || !strings.Contains(st["last_error"], "cannot allocate memory") {
				t.Errorf("status: generation %s, last_error %q", st["generation"], st["last_error"])
			}
			if k.injected() != 1 {
				t.Errorf("%d faults injected, want 1", k.injected())
			}
		})
	}
}
