package fs

import (
	"bytes"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/nlfs/nlfs/remapper"

	"github.com/nlfs/nlfs/engine"
)

// arm injects f into the mapper of every mount of this process until the
// test ends (see faults_init_test.go).
func arm(t *testing.T, f remapper.Fault) {
	t.Helper()
	t.Cleanup(remapper.SetFault(f))
}

// injected counts the faults a test injected.
func injected(t *testing.T) func() int64 {
	before := remapper.FaultsInjected()
	return func() int64 { return remapper.FaultsInjected() - before }
}

// TestENOSPCReachesWriter: when growing data hits a full store (ENOSPC from
// the kernel, injected at the store's write), the writer gets ENOSPC — dd
// says "No space left on device" —, what was written stays, nothing else
// changes, status says why, and the daemon goes on serving.
func TestENOSPCReachesWriter(t *testing.T) {
	mnt, e := testMount(t, engine.Options{Source: bytes.NewReader(letters(2))})
	count := injected(t)
	disarm := remapper.SetFault(remapper.Fault{Op: remapper.FaultPwrite, Errno: syscall.ENOSPC, Count: -1})
	t.Cleanup(disarm)

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
	disarm()
	arm(t, remapper.Fault{Op: remapper.FaultPwrite, Errno: syscall.ENOSPC, Skip: 1, Count: -1})
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
	remapper.SetFault(remapper.Fault{Op: remapper.FaultPwrite})() // disarm
	sh(t, mnt, "printf tail >> data")
	if got := e.DataSize(); got != 1<<20+4 {
		t.Errorf("after space came back, append: %d bytes", got)
	}
	t.Logf("%d ENOSPC faults injected", count())
}

// TestRemapRefusedThroughMount: remap_file_pages refused from the start
// (gVisor's ENOSYS, a seccomp EPERM) or only later: the mount serves every
// layout with mmap, says so in status, and the view is never lost.
func TestRemapRefusedThroughMount(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.ENOSYS, syscall.EPERM} {
		t.Run("probe/"+errno.Error(), func(t *testing.T) {
			count := injected(t)
			arm(t, remapper.Fault{Op: remapper.FaultRemap, Errno: errno, Count: -1})
			mnt, _ := testMount(t, engine.Options{Source: bytes.NewReader(letters(8))})
			sh(t, mnt, "printf '7-0' | dd of=layout status=none")
			if got := pageLetters([]byte(sh(t, mnt, "cat view"))); got != "HGFEDCBA" {
				t.Errorf("view %q, want HGFEDCBA", got)
			}
			st := status(t, mnt)
			if st["backend"] != "mmap" || !strings.Contains(st["backend_reason"], errno.Error()) || st["vmas"] != "8" {
				t.Errorf("status: backend %s (%s), vmas %s", st["backend"], st["backend_reason"], st["vmas"])
			}
			t.Logf("%d faults injected", count())
		})
		t.Run("later/"+errno.Error(), func(t *testing.T) {
			count := injected(t)
			mnt, _ := testMount(t, engine.Options{Source: bytes.NewReader(letters(8))})
			sh(t, mnt, "printf '7-0' | dd of=layout status=none")
			if st := status(t, mnt); st["backend"] != "remap" {
				// Only where remap_file_pages works can it start failing.
				if os.Getenv("NLFS_REQUIRE_FUSE") == "1" {
					t.Fatalf("remap_file_pages does not work here (backend %s, %s)", st["backend"], st["backend_reason"])
				}
				t.Skipf("remap_file_pages does not work here (backend %s)", st["backend"])
			}
			arm(t, remapper.Fault{Op: remapper.FaultRemap, Errno: errno, Count: -1})
			sh(t, mnt, "printf '0 2 4 6 1 3 5 7' | dd of=layout status=none")
			if got := pageLetters([]byte(sh(t, mnt, "cat view"))); got != "ACEGBDFH" {
				t.Errorf("view %q, want ACEGBDFH", got)
			}
			st := status(t, mnt)
			if st["backend"] != "mmap" || !strings.Contains(st["backend_reason"], errno.Error()) || st["last_error"] != "none" {
				t.Errorf("status: backend %s (%s), last_error %q", st["backend"], st["backend_reason"], st["last_error"])
			}
			if count() == 0 {
				t.Error("no fault was injected")
			}
			t.Logf("%d faults injected", count())
		})
	}
}

// TestVMALimitThroughMount: ENOMEM from the kernel while a layout is mapped
// (what the VMA limit answers) makes auto serve the layout by gather; a
// forced backend refuses the layout with ENOMEM and keeps the previous view.
func TestVMALimitThroughMount(t *testing.T) {
	t.Run("auto", func(t *testing.T) {
		count := injected(t)
		mnt, _ := testMount(t, engine.Options{Source: bytes.NewReader(letters(8))})
		sh(t, mnt, "printf '7-0' | dd of=layout status=none")
		backend := status(t, mnt)["backend"]
		op := remapper.FaultRemap
		if backend == "mmap" {
			op = remapper.FaultMmap
		}
		arm(t, remapper.Fault{Op: op, Errno: syscall.ENOMEM, Skip: 3, Count: 1})
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
		if count() != 1 {
			t.Errorf("%d faults injected, want 1", count())
		}
	})
	for _, b := range []remapper.Backend{remapper.Remap, remapper.MMap} {
		t.Run(string(b), func(t *testing.T) {
			count := injected(t)
			mnt, _ := testMount(t, engine.Options{Source: bytes.NewReader(letters(8)), Backend: b})
			sh(t, mnt, "printf '7-0' | dd of=layout status=none")
			op := remapper.FaultRemap
			if b == remapper.MMap {
				op = remapper.FaultMmap
			}
			arm(t, remapper.Fault{Op: op, Errno: syscall.ENOMEM, Skip: 3, Count: 1})
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
			if count() != 1 {
				t.Errorf("%d faults injected, want 1", count())
			}
		})
	}
}
