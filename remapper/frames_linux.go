package remapper

import (
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"unsafe"
)

// Frames reports the physical frame number behind each view page, read
// from /proc/self/pagemap, as proof of aliasing: view pages that show one
// store page share one frame. It answers only for views of at most
// maxPages pages served by a mapping backend; otherwise, or where the
// kernel hides frame numbers (they read as 0 without CAP_SYS_ADMIN), it
// returns nil and a note saying why, rather than a guess. A view page whose
// store page is past the end of data has frame 0 (it is never touched).
func (vw *View) Frames(maxPages int64) ([]uint64, string) {
	vw.s.mu.RLock()
	defer vw.s.mu.RUnlock()
	v := vw.cur
	switch {
	case v.pages == 0:
		return nil, "empty view"
	case v.pages > maxPages:
		return nil, fmt.Sprintf("physical frames shown for views of at most %d pages", maxPages)
	case v.base == nil:
		return nil, fmt.Sprintf("the %s backend keeps no view mapping, so view pages have no frames of their own", v.backend)
	}
	pagemap, err := os.Open("/proc/self/pagemap")
	if err != nil {
		return nil, fmt.Sprintf("physical frames unavailable: %v", err)
	}
	defer pagemap.Close()

	storePages := pagesFor(vw.s.size)
	frames := make([]uint64, v.pages)
	entry := make([]byte, 8)
	known := false
	var touched byte // kept alive so that the compiler keeps the faulting reads
	defer runtime.KeepAlive(&touched)
	for _, r := range v.runs {
		for i := int64(0); i < r.Count; i++ {
			vp := r.View + i
			if r.File+i >= storePages {
				continue
			}
			page := unsafe.Add(v.base, vp*pageSize)
			// Fault the page in so that it has a frame; reading is
			// enough for a shared file mapping. Safe: the store page
			// exists and mu is held, so it cannot shrink meanwhile.
			touched += *(*byte)(page)
			if _, err := pagemap.ReadAt(entry, int64(uintptr(page)/uintptr(pageSize))*8); err != nil {
				return nil, fmt.Sprintf("physical frames unavailable: read pagemap: %v", err)
			}
			e := binary.LittleEndian.Uint64(entry)
			const present, pfnMask = 1 << 63, 1<<55 - 1
			if e&present != 0 && e&pfnMask != 0 {
				frames[vp] = e & pfnMask
				known = true
			}
		}
	}
	if !known {
		return nil, "physical frames need CAP_SYS_ADMIN (/proc/self/pagemap hides them from this daemon)"
	}
	return frames, ""
}
