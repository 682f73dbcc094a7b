package remapper

import (
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The prefaulter maps the pages of fresh views into the daemon's page tables in the
// background. A new view (a layout applied, an identity view rebuilt as the store grows) has
// no page table entries, and a FUSE read of it would fault them in one by one while the
// reader waits: in the kernel's get_user_pages, on the reply path, at up to a few
// microseconds a page (after the page cache is dropped, a cold 1 GiB view read at a fifth
// of the speed of a warm one). The prefaulter does that work with MADV_POPULATE_READ as soon
// as the view settles, so a read that comes a moment later finds the pages mapped, and one
// that comes at once shares the work.
//
// Only pages the Store wrote are mapped (s.written): mapping a hole of the store would
// allocate it, and a sparse store must stay sparse. The work goes a chunk at a
// time under the read lock, so writers wait at most one chunk, and stops as soon as the view
// changes, a layout is being applied, or the Store closes.

// prefaultChunk is the view bytes mapped per hold of the read lock.
const prefaultChunk = 16 << 20

// prefaultSettle is how long the view must stay unchanged before the prefaulter starts (a
// store growing write by write rebuilds its identity view at every write).
const prefaultSettle = 20 * time.Millisecond

// poke asks the prefaulter to map the views in force. It never blocks.
func (s *Store) poke() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// viewsChangedLocked records that a view's mapping changed (or a view came or went). Needs mu
// held for writing.
func (s *Store) viewsChangedLocked() {
	s.gen++
	s.poke()
}

func (s *Store) prefaulter() {
	for {
		select {
		case <-s.quit:
			return
		case <-s.kick:
		}
		for settled := false; !settled; {
			select {
			case <-s.quit:
				return
			case <-s.kick:
			case <-time.After(prefaultSettle):
				settled = true
			}
		}
		if !s.prefault() {
			return // MADV_POPULATE_READ is unknown here (Linux < 5.14)
		}
	}
}

// prefault maps every view that has a mapping of its own, then the store mapping that data
// reads and gather views use, a chunk at a time. It stops early when any mapping changes. It
// returns false if the kernel cannot do it at all.
func (s *Store) prefault() bool {
	s.mu.RLock()
	gen := s.gen
	views := append([]*View(nil), s.views...)
	s.mu.RUnlock()
	for _, v := range append(views, nil) { // nil: the store mapping
		for off := int64(0); ; off += prefaultChunk {
			if s.applying.Load() != 0 {
				return true // a new mapping is coming: it will be mapped in turn
			}
			s.mu.RLock()
			if s.closed || s.gen != gen {
				s.mu.RUnlock()
				return true
			}
			var more, ok bool
			if v == nil {
				more, ok = s.prefaultStoreLocked(off)
			} else {
				more, ok = v.prefaultChunkLocked(off)
			}
			s.mu.RUnlock()
			if !ok {
				return false
			}
			if !more {
				break
			}
		}
	}
	return true
}

// prefaultStoreLocked maps the written pages of store bytes [off, off+prefaultChunk). more:
// there is more past this chunk; ok: false if MADV_POPULATE_READ is not supported. Needs mu
// held.
func (s *Store) prefaultStoreLocked(off int64) (more, ok bool) {
	ok = true
	storeEnd := pagesFor(s.size) * pageSize
	end := min(off+prefaultChunk, storeEnd)
	if off >= end {
		return false, true
	}
	s.extentsLocked(off, int(end-off), func(o int64, k int, written bool) {
		if written && ok {
			ok = populate(s.mem, o, int64(k))
		}
	})
	return end < storeEnd, ok
}

// prefaultChunkLocked maps the view bytes [off, off+prefaultChunk) whose store pages were
// written; a view with no mapping of its own (gather) has nothing to map. Needs s.mu held.
func (v *View) prefaultChunkLocked(off int64) (more, ok bool) {
	ok = true
	if v.cur.base == nil {
		return false, true
	}
	size := v.cur.pages * pageSize
	end := min(off+prefaultChunk, size)
	if off >= end {
		return false, true
	}
	// Map the view in stretches of consecutive view pages whose store pages were written.
	start, stop := int64(-1), int64(-1)
	flush := func() {
		if start >= 0 && ok {
			ok = populate(v.cur.base, start, stop-start)
		}
		start = -1
	}
	_ = v.walkLocked(off, int(end-off), func(sg segment) error {
		if !sg.inStore {
			flush()
			return nil
		}
		v.s.extentsLocked(sg.storeOff, sg.n, func(o int64, k int, written bool) {
			vo := sg.viewOff + o - sg.storeOff
			if !written {
				flush()
				return
			}
			if start < 0 || stop != vo {
				flush()
				start = vo
			}
			stop = vo + int64(k)
		})
		return nil
	})
	flush()
	return end < size, ok
}

// populate maps n bytes of a mapping at base+off into the page tables. It returns false only
// if the kernel does not know MADV_POPULATE_READ; any other failure (memory is short) just
// leaves the pages to be faulted in when read.
func populate(base unsafe.Pointer, off, n int64) bool {
	for {
		_, _, e := unix.Syscall(unix.SYS_MADVISE, uintptr(unsafe.Add(base, off)), uintptr(n), unix.MADV_POPULATE_READ)
		switch e {
		case syscall.EINTR, syscall.EAGAIN:
			continue
		case syscall.EINVAL:
			return false
		}
		return true
	}
}
