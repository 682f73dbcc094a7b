package remapper

import (
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The prefaulter maps the pages of a fresh view into the daemon's page tables in the
// background. A new view (a layout applied, an identity view rebuilt as the store grows) has
// no page table entries, and a FUSE read of it would fault them in one by one while the
// reader waits: in the kernel's get_user_pages, on the reply path, at up to a few
// microseconds a page (after the page cache is dropped, a cold 1 GiB view read at a fifth
// of the speed of a warm one). The prefaulter does that work with MADV_POPULATE_READ as soon
// as the view settles, so a read that comes a moment later finds the pages mapped, and one
// that comes at once shares the work.
//
// Only pages the Mapper wrote are mapped (m.written): mapping a hole of the store would
// allocate it, and a sparse store must stay sparse. The work goes a chunk at a
// time under the read lock, so writers wait at most one chunk, and stops as soon as the view
// changes, a layout is being applied, or the Mapper closes.

// prefaultChunk is the view bytes mapped per hold of the read lock.
const prefaultChunk = 16 << 20

// prefaultSettle is how long the view must stay unchanged before the prefaulter starts (a
// store growing write by write rebuilds its identity view at every write).
const prefaultSettle = 20 * time.Millisecond

// poke asks the prefaulter to map the view in force. It never blocks.
func (m *Mapper) poke() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// viewChangedLocked records that a new view is in force. Needs mu held for writing.
func (m *Mapper) viewChangedLocked() {
	m.gen++
	m.poke()
}

func (m *Mapper) prefaulter() {
	for {
		select {
		case <-m.quit:
			return
		case <-m.kick:
		}
		for settled := false; !settled; {
			select {
			case <-m.quit:
				return
			case <-m.kick:
			case <-time.After(prefaultSettle):
				settled = true
			}
		}
		if !m.prefault() {
			return // MADV_POPULATE_READ is unknown here (Linux < 5.14)
		}
	}
}

// prefault maps the view in force, then (for the mapping backends) the store mapping that
// data reads use, a chunk at a time. It returns false if the kernel cannot do it at all.
func (m *Mapper) prefault() bool {
	m.mu.RLock()
	gen := m.gen
	m.mu.RUnlock()
	for _, store := range []bool{false, true} {
		for off := int64(0); ; off += prefaultChunk {
			if m.applying.Load() != 0 {
				return true // a new view is coming: it will be mapped in turn
			}
			m.mu.RLock()
			if m.closed || m.gen != gen {
				m.mu.RUnlock()
				return true
			}
			more, ok := m.prefaultChunkLocked(store, off)
			m.mu.RUnlock()
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

// prefaultChunkLocked maps the written pages of view bytes [off, off+prefaultChunk) (or,
// with store, of store bytes there). more: there is more past this chunk; ok: false if
// MADV_POPULATE_READ is not supported. Needs mu held.
func (m *Mapper) prefaultChunkLocked(store bool, off int64) (more, ok bool) {
	ok = true
	if store || m.view.base == nil {
		if store && m.view.base == nil {
			return false, true // gather: the view pass mapped the store already
		}
		storeEnd := pagesFor(m.size) * pageSize
		end := min(off+prefaultChunk, storeEnd)
		if off >= end {
			return false, true
		}
		m.storeExtents(off, int(end-off), func(o int64, k int, written bool) {
			if written && ok {
				ok = populate(m.store, o, int64(k))
			}
		})
		return end < storeEnd, ok
	}
	size := m.view.pages * pageSize
	end := min(off+prefaultChunk, size)
	if off >= end {
		return false, true
	}
	// Map the view in stretches of consecutive view pages whose store pages were written.
	start, stop := int64(-1), int64(-1)
	flush := func() {
		if start >= 0 && ok {
			ok = populate(m.view.base, start, stop-start)
		}
		start = -1
	}
	_ = m.walkLocked(off, int(end-off), func(s segment) error {
		if !s.inStore {
			flush()
			return nil
		}
		m.storeExtents(s.storeOff, s.n, func(o int64, k int, written bool) {
			v := s.viewOff + o - s.storeOff
			if !written {
				flush()
				return
			}
			if start < 0 || stop != v {
				flush()
				start = v
			}
			stop = v + int64(k)
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
