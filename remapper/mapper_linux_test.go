package remapper

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/nlfs/nlfs/run"
)

// forEachBackend runs f once per backend as a subtest.
func forEachBackend(t *testing.T, f func(t *testing.T, b Backend, m *Mapper)) {
	for _, b := range mappedBackends {
		t.Run(string(b), func(t *testing.T) { f(t, b, newMapper(t, b)) })
	}
}

func TestNewIsEmptyIdentity(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend, m *Mapper) {
		if m.DataSize() != 0 || m.DataPages() != 0 || m.ViewPages() != 0 || m.ViewSize() != 0 || len(m.Runs()) != 0 {
			t.Fatalf("new mapper not empty: data %d/%d view %d runs %v", m.DataSize(), m.DataPages(), m.ViewPages(), m.Runs())
		}
		st := m.Status()
		if st.Backend != b || st.Reason != "forced by --backend "+string(b) || st.ViewAddr != 0 || st.VMAs != 0 {
			t.Fatalf("status %+v", st)
		}
		if n, err := m.ReadView(make([]byte, 10), 0); n != 0 || err != nil {
			t.Fatalf("ReadView on empty view = %d, %v", n, err)
		}
	})
}

func TestAutoProbe(t *testing.T) {
	m := newMapper(t, "")
	st := m.Status()
	if st.Backend != Remap || st.Reason != "probe: remap_file_pages works" {
		t.Fatalf("auto on this kernel: %+v", st)
	}
	if st.MaxMapCount <= 0 {
		t.Fatalf("MaxMapCount %d", st.MaxMapCount)
	}
	for _, errno := range []syscall.Errno{syscall.ENOSYS, syscall.EPERM} {
		t.Run(errno.Error(), func(t *testing.T) {
			failRemapAt(t, 1, errno)
			m := newMapper(t, Auto)
			st := m.Status()
			if st.Backend != MMap || !strings.Contains(st.Reason, errno.Error()) {
				t.Fatalf("auto with remap_file_pages failing %v: %+v", errno, st)
			}
			fillStore(t, m, 4)
			apply(t, m, reverse(4))
			wantIDs(t, m, reverse(4))
			if st := m.Status(); st.Backend != MMap || st.VMAs != 4 {
				t.Fatalf("after apply: %+v", st)
			}
			// A forced remap refuses to start, saying why.
			failRemapAt(t, 1, errno)
			_, err := New(Options{Backend: Remap})
			if !errors.Is(err, errno) || !strings.Contains(err.Error(), "--backend auto or mmap") {
				t.Fatalf("New(remap) with remap_file_pages failing: %v", err)
			}
		})
	}
}

func TestLayouts(t *testing.T) {
	cases := []struct {
		name  string
		pages []int64
	}{
		{"reverse", reverse(8)},
		{"rotate", rotate(8, 3)},
		{"repeats", []int64{5, 5, 5, 0, 1, 0, 1, 7}},
		{"identity pinned", identity(8)},
		{"longer than the store", []int64{7, 6, 5, 4, 3, 2, 1, 0, 0, 1, 2, 3, 4, 5, 6, 7}},
		{"single page", []int64{6}},
	}
	forEachBackend(t, func(t *testing.T, b Backend, m *Mapper) {
		fillStore(t, m, 8)
		for _, c := range cases {
			apply(t, m, c.pages)
			wantIDs(t, m, c.pages)
			if m.ViewPages() != int64(len(c.pages)) {
				t.Fatalf("%s: ViewPages %d", c.name, m.ViewPages())
			}
			if got, want := fmt.Sprint(m.Runs()), fmt.Sprint(runsOf(c.pages)); got != want {
				t.Fatalf("%s: Runs %s, want %s", c.name, got, want)
			}
			// Partial, unaligned reads agree with the whole view.
			all := readAll(t, m)
			for _, r := range [][2]int64{{1, 10}, {ps - 3, 7}, {ps + 5, 3*ps + 11}, {0, int64(len(all))}} {
				if r[0]+r[1] > int64(len(all)) {
					continue
				}
				buf := make([]byte, r[1])
				if n, err := m.ReadView(buf, r[0]); err != nil || n != len(buf) || !bytes.Equal(buf, all[r[0]:r[0]+r[1]]) {
					t.Fatalf("%s: ReadView(%d, %d) = %d, %v (equal %v)", c.name, r[1], r[0], n, err, bytes.Equal(buf, all[r[0]:r[0]+r[1]]))
				}
			}
		}
	})
}

func TestAliasingWrites(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend, m *Mapper) {
		fillStore(t, m, 4)
		apply(t, m, []int64{2, 0, 2, 3, 2})
		if n, err := m.WriteView(pageContent(77), 2*ps); err != nil || n != int(ps) {
			t.Fatalf("WriteView = %d, %v", n, err)
		}
		wantIDs(t, m, []int64{77, 0, 77, 3, 77})
		buf := make([]byte, ps)
		if _, err := m.ReadData(buf, 2*ps); err != nil || pageID(t, buf) != 77 {
			t.Fatalf("store page 2 after write through the view: %v", err)
		}
		// Unaligned write straddling view pages 3 and 4 (store pages 3 and 2).
		if _, err := m.WriteView([]byte("hello, world"), 4*ps-5); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, 12)
		m.ReadData(got[:5], 4*ps-5)
		m.ReadData(got[5:], 2*ps)
		if string(got) != "hello, world" {
			t.Fatalf("store after straddling write: %q", got)
		}
		// And writes to the store show through the view.
		if _, err := m.WriteData(pageContent(55), 0); err != nil {
			t.Fatal(err)
		}
		if id := pageID(t, readAll(t, m)[ps:2*ps]); id != 55 {
			t.Fatalf("view page 1 shows %d after WriteData", id)
		}
	})
}

func TestIdentityFollowsStore(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend, m *Mapper) {
		fillStore(t, m, 3)
		if m.ViewPages() != 3 || fmt.Sprint(m.Runs()) != "[{0 0 3}]" {
			t.Fatalf("after growth: view %d runs %v", m.ViewPages(), m.Runs())
		}
		wantIDs(t, m, identity(3))
		// Unaligned growth: the view covers the partial page.
		if _, err := m.WriteData([]byte("tail"), 3*ps); err != nil {
			t.Fatal(err)
		}
		if m.DataSize() != 3*ps+4 || m.DataPages() != 4 || m.ViewPages() != 4 {
			t.Fatalf("data %d/%d view %d", m.DataSize(), m.DataPages(), m.ViewPages())
		}
		buf := readAll(t, m)
		if string(buf[3*ps:3*ps+4]) != "tail" || !allZero(buf[3*ps+4:]) {
			t.Fatal("partial last page wrong in the view")
		}
		// Shrink.
		if err := m.Truncate(ps + 100); err != nil {
			t.Fatal(err)
		}
		if m.ViewPages() != 2 || m.ViewSize() != 2*ps || m.DataPages() != 2 {
			t.Fatalf("after shrink: view %d data pages %d", m.ViewPages(), m.DataPages())
		}
		buf = readAll(t, m)
		if pageID(t, buf[:ps]) != 0 || !bytes.Equal(buf[ps:ps+100], pageContent(1)[:100]) || !allZero(buf[ps+100:]) {
			t.Fatal("view after unaligned shrink wrong")
		}
		if err := m.Truncate(0); err != nil {
			t.Fatal(err)
		}
		if m.ViewPages() != 0 || len(m.Runs()) != 0 || m.Status().ViewAddr != 0 {
			t.Fatalf("empty store: view %d runs %v", m.ViewPages(), m.Runs())
		}
		// A pinned layout does not follow; ApplyIdentity returns to following.
		fillStore(t, m, 4)
		apply(t, m, reverse(4))
		fillStore(t, m, 6)
		wantIDs(t, m, reverse(4))
		if err := m.ApplyIdentity(); err != nil {
			t.Fatal(err)
		}
		wantIDs(t, m, identity(6))
		fillStore(t, m, 7)
		wantIDs(t, m, identity(7))
	})
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func TestUnalignedTruncateZeros(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend, m *Mapper) {
		ff := bytes.Repeat([]byte{0xff}, int(2*ps))
		if _, err := m.WriteData(ff, 0); err != nil {
			t.Fatal(err)
		}
		apply(t, m, []int64{1, 0}) // pinned
		if err := m.Truncate(ps + 100); err != nil {
			t.Fatal(err)
		}
		if err := m.Truncate(2 * ps); err != nil {
			t.Fatal(err)
		}
		data := make([]byte, 2*ps)
		if n, err := m.ReadData(data, 0); n != int(2*ps) || err != nil {
			t.Fatalf("ReadData = %d, %v", n, err)
		}
		if !allZero(data[ps+100:]) || !bytes.Equal(data[:ps+100], ff[:ps+100]) {
			t.Fatal("store after truncate down and up: tail not zero")
		}
		view := readAll(t, m)
		if !bytes.Equal(view[:ps], data[ps:]) || !bytes.Equal(view[ps:], data[:ps]) {
			t.Fatal("view disagrees with the store")
		}
		// Bytes written through the view past the store's size (inside its last page) are not
		// data: DataSize is unchanged and growing the store zeroes them.
		if err := m.Truncate(ps + 10); err != nil {
			t.Fatal(err)
		}
		if _, err := m.WriteView([]byte("ghost"), 50); err != nil { // view page 0 = store page 1, byte 50 > size
			t.Fatal(err)
		}
		if m.DataSize() != ps+10 {
			t.Fatalf("DataSize %d after a write past it through the view", m.DataSize())
		}
		if err := m.Truncate(2 * ps); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, 5)
		m.ReadData(got, ps+50)
		if !allZero(got) {
			t.Fatalf("bytes past the old size reappeared: %q", got)
		}
	})
}

func TestTruncateBelowReferencedPages(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend, m *Mapper) {
		fillStore(t, m, 8)
		apply(t, m, reverse(8))
		if err := m.Truncate(3 * ps); err != nil {
			t.Fatal(err)
		}
		// View pages showing store pages 3..7 read as zeros, no SIGBUS.
		wantIDs(t, m, []int64{-1, -1, -1, -1, -1, 2, 1, 0})
		// Writes there are refused with ENXIO and change nothing.
		n, err := m.WriteView(pageContent(99), 0)
		wantErrno(t, err, syscall.ENXIO)
		if n != 0 || !strings.Contains(err.Error(), "past the end of data") {
			t.Fatalf("WriteView = %d, %v", n, err)
		}
		n, err = m.WriteView(bytes.Repeat([]byte{1}, int(2*ps)), 4*ps)
		wantErrno(t, err, syscall.ENXIO)
		if n != 0 {
			t.Fatalf("write into view page 4 (store page 3, gone): n = %d", n)
		}
		n, err = m.WriteView(pageContent(42), 7*ps) // store page 0: fine
		if err != nil || n != int(ps) {
			t.Fatalf("WriteView on a live page = %d, %v", n, err)
		}
		wantIDs(t, m, []int64{-1, -1, -1, -1, -1, 2, 1, 42})
		// Growing back shows data again through the same view.
		for i := int64(3); i < 8; i++ {
			if _, err := m.WriteData(pageContent(100+i), i*ps); err != nil {
				t.Fatal(err)
			}
		}
		wantIDs(t, m, []int64{107, 106, 105, 104, 103, 2, 1, 42})
		// A write that starts on a live page and runs into a gone one writes up to that point.
		if err := m.Truncate(3 * ps); err != nil {
			t.Fatal(err)
		}
		apply(t, m, []int64{2, 5})
		n, err = m.WriteView(bytes.Repeat([]byte{1}, int(2*ps)), 0)
		wantErrno(t, err, syscall.ENXIO)
		if n != int(ps) {
			t.Fatalf("write from a live page into a gone one: n = %d, want %d", n, ps)
		}
		if pageIDs(t, readAll(t, m))[1] != -1 {
			t.Fatal("gone page changed")
		}
		apply(t, m, reverse(8))
		// Truncate to nothing and back with zeros only.
		if err := m.Truncate(0); err != nil {
			t.Fatal(err)
		}
		wantIDs(t, m, []int64{-1, -1, -1, -1, -1, -1, -1, -1})
		if err := m.Truncate(8 * ps); err != nil {
			t.Fatal(err)
		}
		wantIDs(t, m, []int64{-1, -1, -1, -1, -1, -1, -1, -1})
	})
}

func TestLayoutPastStoreEnd(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend, m *Mapper) {
		fillStore(t, m, 2)
		apply(t, m, []int64{1, 1000, 0, 5000000})
		wantIDs(t, m, []int64{1, -1, 0, -1})
		if err := m.Truncate(1001 * ps); err != nil {
			t.Fatal(err)
		}
		if _, err := m.WriteData(pageContent(3), 1000*ps); err != nil {
			t.Fatal(err)
		}
		wantIDs(t, m, []int64{1, 3, 0, -1})
	})
}

func TestViewEnds(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend, m *Mapper) {
		fillStore(t, m, 2)
		apply(t, m, []int64{1, 0})
		for _, off := range []int64{2 * ps, 2*ps + 1, 1 << 40} {
			if n, err := m.ReadView(make([]byte, 10), off); n != 0 || err != nil {
				t.Fatalf("ReadView at %d = %d, %v", off, n, err)
			}
			n, err := m.WriteView([]byte("x"), off)
			wantErrno(t, err, syscall.EFBIG)
			if n != 0 {
				t.Fatalf("WriteView at %d wrote %d", off, n)
			}
		}
		// A read running past the end is short, with a nil error.
		buf := make([]byte, 100)
		if n, err := m.ReadView(buf, 2*ps-40); n != 40 || err != nil {
			t.Fatalf("ReadView across the end = %d, %v", n, err)
		}
		// A write running past the end writes up to it.
		n, err := m.WriteView(bytes.Repeat([]byte{7}, 100), 2*ps-40)
		wantErrno(t, err, syscall.EFBIG)
		if n != 40 {
			t.Fatalf("WriteView across the end wrote %d, want 40", n)
		}
		got := make([]byte, 41)
		m.ReadData(got, ps-41) // view page 1 = store page 0
		if got[0] == 7 || !bytes.Equal(got[1:], bytes.Repeat([]byte{7}, 40)) {
			t.Fatalf("store after write across the view end: %v", got)
		}
		// Negative offsets.
		_, err = m.ReadView(buf, -1)
		wantErrno(t, err, syscall.EINVAL)
		_, err = m.WriteView(buf, -1)
		wantErrno(t, err, syscall.EINVAL)
		// Empty writes and reads.
		if n, err := m.WriteView(nil, 0); n != 0 || err != nil {
			t.Fatalf("empty WriteView = %d, %v", n, err)
		}
		if n, err := m.ReadView(nil, 0); n != 0 || err != nil {
			t.Fatalf("empty ReadView = %d, %v", n, err)
		}
		// An empty pinned view.
		if err := m.Apply(nil); err != nil {
			t.Fatal(err)
		}
		if m.ViewPages() != 0 || m.Status().ViewAddr != 0 {
			t.Fatal("empty pinned view")
		}
		_, err = m.WriteView([]byte("x"), 0)
		wantErrno(t, err, syscall.EFBIG)
	})
}

func TestReadWriteData(t *testing.T) {
	m := newMapper(t, Auto)
	if n, err := m.ReadData(make([]byte, 4), 0); n != 0 || err != nil {
		t.Fatalf("ReadData on empty store = %d, %v", n, err)
	}
	if n, err := m.WriteData([]byte("abc"), 10); n != 3 || err != nil {
		t.Fatalf("WriteData = %d, %v", n, err)
	}
	if m.DataSize() != 13 || m.DataPages() != 1 {
		t.Fatalf("size %d pages %d", m.DataSize(), m.DataPages())
	}
	buf := make([]byte, 20)
	n, err := m.ReadData(buf, 0)
	if n != 13 || err != nil || string(buf[10:13]) != "abc" || !allZero(buf[:10]) {
		t.Fatalf("ReadData = %d, %v, %q", n, err, buf[:n])
	}
	if n, err := m.ReadData(buf[:3], 10); n != 3 || err != nil {
		t.Fatalf("exact ReadData = %d, %v", n, err)
	}
	if n, err := m.ReadData(buf, 13); n != 0 || err != nil {
		t.Fatalf("ReadData at EOF = %d, %v", n, err)
	}
	_, err = m.ReadData(buf, -1)
	wantErrno(t, err, syscall.EINVAL)
	_, err = m.WriteData(buf, -1)
	wantErrno(t, err, syscall.EINVAL)
	wantErrno(t, m.Truncate(-1), syscall.EINVAL)
	_, err = m.WriteData([]byte("x"), 1<<63-1)
	wantErrno(t, err, syscall.EFBIG)
	if m.DataSize() != 13 {
		t.Fatalf("failed calls changed the size: %d", m.DataSize())
	}
}

func TestWriteDataENOSPC(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b Backend, m *Mapper) {
		fillStore(t, m, 1)
		calls := 0
		setSeam(t, &seams.pwrite, func(fd int, p []byte, off int64) (int, error) {
			calls++
			if calls == 1 {
				return 0, syscall.ENOSPC
			}
			return 0, syscall.EIO
		})
		_, err := m.WriteData(make([]byte, 3*ps), ps)
		wantErrno(t, err, syscall.ENOSPC)
		if m.DataSize() != ps || m.ViewPages() != 1 {
			t.Fatalf("failed growth left size %d, view %d pages", m.DataSize(), m.ViewPages())
		}
		wantIDs(t, m, []int64{0})
	})
}

func TestApplyRejectsBadRuns(t *testing.T) {
	m := newMapper(t, Auto)
	fillStore(t, m, 4)
	apply(t, m, reverse(4))
	bad := map[string][]run.Run{
		"zero count":     {{View: 0, File: 0, Count: 0}},
		"negative count": {{View: 0, File: 0, Count: -1}},
		"gap":            {{View: 0, File: 0, Count: 1}, {View: 2, File: 1, Count: 1}},
		"overlap":        {{View: 0, File: 0, Count: 2}, {View: 1, File: 1, Count: 1}},
		"not from 0":     {{View: 1, File: 0, Count: 1}},
		"negative file":  {{View: 0, File: -1, Count: 1}},
		"huge view":      {{View: 0, File: 0, Count: 1 << 62}},
		"huge file":      {{View: 0, File: 1<<63 - 2, Count: 2}},
	}
	for name, runs := range bad {
		err := m.Apply(runs)
		if !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.EFBIG) {
			t.Errorf("%s: Apply = %v", name, err)
		}
	}
	wantIDs(t, m, reverse(4))
	// Runs that continue each other are merged.
	if err := m.Apply([]run.Run{{View: 0, File: 0, Count: 1}, {View: 1, File: 1, Count: 2}, {View: 3, File: 3, Count: 1}}); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(m.Runs()); got != "[{0 0 4}]" {
		t.Fatalf("Runs = %s", got)
	}
}

func TestClose(t *testing.T) {
	m, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	fillStore(t, m, 2)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err = m.ReadView(make([]byte, 1), 0)
	wantErrno(t, err, os.ErrClosed)
	_, err = m.WriteData([]byte("x"), 0)
	wantErrno(t, err, os.ErrClosed)
	wantErrno(t, m.Apply(nil), os.ErrClosed)
	wantErrno(t, m.ApplyIdentity(), os.ErrClosed)
	wantErrno(t, m.Truncate(0), os.ErrClosed)
}
