package remapper

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/nlfs/nlfs/run"
)

// TestNamedStore: a store in a named file is created empty (mode 0600), holds exactly data's
// bytes at every moment, keeps its holes, and reopens with its exact size and bytes.
func TestNamedStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store")
	s, err := NewStore(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Created() {
		t.Error("Created() = false for a new file")
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != 0 {
		t.Fatalf("new store file: %v, %v", fi, err)
	}
	v, err := s.NewView()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.WriteData(pageContent(0), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Truncate(3*ps + 100); err != nil { // page 1 and 2: a hole; page 3 partial
		t.Fatal(err)
	}
	if _, err := s.WriteData([]byte("tail"), 3*ps); err != nil {
		t.Fatal(err)
	}
	if err := v.Apply([]run.Run{{View: 0, File: 3, Count: 1}}); err != nil {
		t.Fatal(err)
	}
	// A write through the view past the end of data, inside its last page: it shows in the
	// view but is not data, and the file keeps data's size.
	if _, _, err := v.WriteView([]byte("not data"), 200); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Size() != 3*ps+100 {
		t.Errorf("file size %d after a view write past the end, want %d", fi.Size(), 3*ps+100)
	}
	file, _ := os.ReadFile(path)
	want := append(append(pageContent(0), make([]byte, 2*ps)...), append([]byte("tail"), make([]byte, 96)...)...)
	if !bytes.Equal(file, want) {
		t.Errorf("the file does not hold data's bytes exactly (%d bytes)", len(file))
	}
	s.Close()

	s, err = NewStore(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Created() || s.DataSize() != 3*ps+100 {
		t.Errorf("reopened: created %v, size %d", s.Created(), s.DataSize())
	}
	got := make([]byte, s.DataSize())
	if n, err := s.ReadData(got, 0); err != nil || n != len(got) || !bytes.Equal(got, want) {
		t.Errorf("reopened data differs (%d bytes, %v)", n, err)
	}
	if got := s.written.count(); got != 2 {
		t.Errorf("reopened store knows %d written pages, want 2 (pages 0 and 3; 1 and 2 are a hole)", got)
	}
}

// TestStoreLock: one Store per file, even within one process; the lock goes with Close.
func TestStoreLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store")
	s, err := NewStore(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewStore(Options{Path: path}); !errors.Is(err, ErrStoreLocked) {
		t.Fatalf("second NewStore: %v, want ErrStoreLocked", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("a refused second open removed the file: %v", err)
	}
	s.Close()
	s2, err := NewStore(Options{Path: path})
	if err != nil {
		t.Fatalf("NewStore after Close: %v", err)
	}
	s2.Close()
}

// TestSizeLimit: a write that needs pages beyond the limit writes what fits and fails with
// ENOSPC, through data and through a view; rewriting pages that exist, and sparse growth,
// need no room.
func TestSizeLimit(t *testing.T) {
	s, err := NewStore(Options{SizeLimit: 4 * ps})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v, err := s.NewView()
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte{'x'}, int(6*ps))
	n, err := s.WriteData(big, 0)
	if !errors.Is(err, syscall.ENOSPC) || n != int(4*ps) {
		t.Fatalf("write of 6 pages under a 4-page limit: %d bytes, %v; want 4 pages and ENOSPC", n, err)
	}
	if s.DataSize() != 4*ps {
		t.Errorf("data size %d after the short write, want %d", s.DataSize(), 4*ps)
	}
	if _, err := s.WriteData(bytes.Repeat([]byte{'y'}, int(4*ps)), 0); err != nil {
		t.Errorf("rewriting existing pages: %v", err)
	}
	if err := s.Truncate(100 * ps); err != nil {
		t.Errorf("sparse growth past the limit: %v", err)
	}
	if err := v.Apply([]run.Run{{View: 0, File: 50, Count: 2}}); err != nil {
		t.Fatal(err)
	}
	if n, _, err := v.WriteView(bytes.Repeat([]byte{'z'}, int(2*ps)), 0); !errors.Is(err, syscall.ENOSPC) || n != 0 {
		t.Errorf("view write into new pages at the limit: %d, %v; want 0 and ENOSPC", n, err)
	}
	var st unix.Stat_t
	unix.Fstat(s.fd, &st)
	if st.Blocks*512 > 4*ps {
		t.Errorf("the store holds %d bytes, over its 4-page limit", st.Blocks*512)
	}
}

// TestViews: several views of one store show it in their own orders; a write through one
// shows in the others and in data; identity views all follow the store; closing one leaves
// the others.
func TestViews(t *testing.T) {
	for _, b := range mappedBackends {
		t.Run(string(b), func(t *testing.T) {
			s, err := NewStore(Options{Backend: b})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			a, _ := s.NewView()
			r, _ := s.NewView()
			id, _ := s.NewView()
			for i := int64(0); i < 4; i++ {
				s.WriteData(pageContent(i), i*ps)
			}
			if err := r.Apply(runsOf(reverse(4))); err != nil {
				t.Fatal(err)
			}
			if err := a.Apply(runsOf([]int64{1, 1, 2})); err != nil {
				t.Fatal(err)
			}
			_, ext, err := r.WriteView(pageContent(9), 2*ps) // r's page 2 is store page 1
			if err != nil || len(ext) != 1 || ext[0] != (Extent{Off: ps, Len: ps}) {
				t.Fatalf("write through r: %v, extents %v", err, ext)
			}
			for _, c := range []struct {
				v    *View
				want []int64
			}{{a, []int64{9, 9, 2}}, {r, []int64{3, 2, 9, 0}}, {id, []int64{0, 9, 2, 3}}} {
				buf := make([]byte, c.v.ViewSize())
				c.v.ReadView(buf, 0)
				if got := pageIDs(t, buf); !equalIDs(got, c.want) {
					t.Errorf("view: %v, want %v", got, c.want)
				}
			}
			s.WriteData(pageContent(5), 4*ps) // the store grows: the identity view with it
			if got := id.ViewPages(); got != 5 {
				t.Errorf("identity view has %d pages after growth, want 5", got)
			}
			if got := r.ViewPages(); got != 4 {
				t.Errorf("pinned view has %d pages after growth, want 4", got)
			}
			if err := a.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := a.ReadView(make([]byte, 1), 0); !errors.Is(err, os.ErrClosed) {
				t.Errorf("read of a closed view: %v", err)
			}
			buf := make([]byte, r.ViewSize())
			r.ReadView(buf, 0)
			if got := pageIDs(t, buf); !equalIDs(got, []int64{3, 2, 9, 0}) {
				t.Errorf("r after a's close: %v", got)
			}
		})
	}
}

func equalIDs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestSharedVMABudget: the views of a store share the process's VMA budget: two views of
// 40,000 runs each cannot both be mapped (vm.max_map_count is 65,530 by default), so Auto
// serves the second by gather and says why; when the first goes back to the identity, the
// second can be mapped again.
func TestSharedVMABudget(t *testing.T) {
	maxCount, err := LinuxKernel{}.MaxMapCount()
	if err != nil {
		t.Fatal(err)
	}
	const runs = 40000
	if maxCount >= 2*runs+2*vmaMargin {
		t.Fatalf("vm.max_map_count is %d here: this test needs it below %d (the default is 65530)", maxCount, 2*runs+2*vmaMargin)
	}
	s, err := NewStore(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Truncate(runs * ps); err != nil {
		t.Fatal(err)
	}
	a, _ := s.NewView()
	b, _ := s.NewView()
	rev := runsOf(reverse(runs))
	if err := a.Apply(rev); err != nil {
		t.Fatal(err)
	}
	if st := a.Status(); st.Backend == Gather {
		t.Fatalf("first view: %s (%s), want a mapping backend", st.Backend, st.Reason)
	}
	if err := b.Apply(rev); err != nil {
		t.Fatal(err)
	}
	if st := b.Status(); st.Backend != Gather || !bytes.Contains([]byte(st.Reason), []byte("exceed the VMA budget")) {
		t.Fatalf("second view: %s (%s), want gather for the budget", st.Backend, st.Reason)
	}
	if err := a.ApplyIdentity(); err != nil {
		t.Fatal(err)
	}
	if err := b.Apply(rev); err != nil {
		t.Fatal(err)
	}
	if st := b.Status(); st.Backend == Gather {
		t.Errorf("second view after the first let go: %s (%s), want a mapping backend", st.Backend, st.Reason)
	}
}
