package main

import (
	"math/rand/v2"
	"os"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestPVM(t *testing.T) {
	for rep := 0; rep < 3; rep++ {
		for _, mode := range []string{"shuffle", "reverse"} {
			f, _ := os.Open("/dev/shm/ab.src")
			fi, _ := f.Stat()
			n := int(fi.Size())
			pages := n / 4096
			perm := rand.New(rand.NewPCG(1, 1)).Perm(pages)
			if mode == "reverse" {
				for i := range perm {
					perm[i] = pages - 1 - i
				}
			}
			os.Remove("/dev/shm/ab.out")
			o, _ := os.Create("/dev/shm/ab.out")
			t0 := time.Now()
			m, err := unix.Mmap(int(f.Fd()), 0, n, unix.PROT_READ, unix.MAP_SHARED|unix.MAP_POPULATE)
			if err != nil {
				t.Fatal(err)
			}
			t1 := time.Now()
			const batch = 1024
			buf := make([]byte, batch*4096)
			base := uintptr(unsafe.Pointer(&m[0]))
			local := []unix.Iovec{{Base: &buf[0]}}
			local[0].SetLen(len(buf))
			remote := make([]unix.RemoteIovec, 0, batch)
			var tr, tw time.Duration
			for i := 0; i < pages; i += batch {
				k := min(batch, pages-i)
				remote = remote[:0]
				for j := 0; j < k; j++ {
					remote = append(remote, unix.RemoteIovec{Base: base + uintptr(perm[i+j])*4096, Len: 4096})
				}
				local[0].SetLen(k * 4096)
				a := time.Now()
				got, err := unix.ProcessVMReadv(os.Getpid(), local, remote, 0)
				if err != nil || got != k*4096 {
					t.Fatal(got, err)
				}
				b := time.Now()
				unix.Write(int(o.Fd()), buf[:k*4096])
				tr += b.Sub(a)
				tw += time.Since(b)
			}
			t.Logf("%s: map %v, readv %v, write %v, total %v", mode, t1.Sub(t0), tr, tw, time.Since(t0))
			unix.Munmap(m)
			o.Close()
			f.Close()
		}
		os.Remove("/dev/shm/ab.out")
		t0 := time.Now()
		exec := func() {}
		exec()
		src, _ := os.ReadFile("/dev/null")
		_ = src
		_ = t0
	}
}
