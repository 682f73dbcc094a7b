package fs

// The resource meter of the stress test (stress_test.go): goroutines, descriptors, heap and
// mappings of the store, which must not grow.

import (
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
	"unsafe"
)

// usage is what the serving process holds.
type usage struct {
	goroutines, fds, pipes, storeVMAs int
	heap, model                       uint64 // heap in use less the model's records, and those
}

func (s *stress) measure() usage {
	var u usage
	// Let the request goroutines of the last operations finish.
	prev := -1
	for i := 0; i < 100; i++ {
		runtime.GC()
		u.goroutines = runtime.NumGoroutine()
		if u.goroutines == prev {
			break
		}
		prev = u.goroutines
		time.Sleep(20 * time.Millisecond)
	}
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	// The model's records of every write live in this heap too (about 80 bytes a write, some
	// tens of MiB for five minutes): they are not the daemon's.
	s.mu.RLock()
	u.model = uint64(cap(s.flips)) * uint64(unsafe.Sizeof(int(0)))
	for _, ws := range s.writes {
		u.model += uint64(cap(ws)) * uint64(unsafe.Sizeof(stressWrite{}))
	}
	for _, log := range s.logs {
		u.model += uint64(cap(log)) * 8
	}
	s.mu.RUnlock()
	u.heap = ms.HeapInuse - min(u.model, ms.HeapInuse)
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		s.t.Fatal(err)
	}
	for _, e := range fds {
		// go-fuse keeps a pool of pipes for splicing replies, as large as the requests that
		// were in flight at once: bounded, not a leak.
		if l, _ := os.Readlink("/proc/self/fd/" + e.Name()); strings.HasPrefix(l, "pipe:") {
			u.pipes++
		} else {
			u.fds++
		}
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		s.t.Fatal(err)
	}
	u.storeVMAs = strings.Count(string(maps), "memfd:nlfs-data")
	return u
}
