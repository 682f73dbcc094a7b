package fs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/nlfs/nlfs/engine"
)

// TestTLPI is the README's first session: three pages A, B, C and the
// layout of TLPI Figure 49-5.
func TestTLPI(t *testing.T) {
	mnt, _ := testMount(t, engine.Options{Pages: 3})
	sh(t, mnt, `for c in A B C; do head -c 4096 /dev/zero | tr '\0' $c; done > data`)
	sh(t, mnt, `echo '2 1 0' > layout`)
	if got := pageLetters([]byte(sh(t, mnt, "cat view"))); got != "CBA" {
		t.Errorf("cat view: pages %q, want CBA", got)
	}
	if got := sh(t, mnt, "cat layout"); got != "2-0\n" {
		t.Errorf("cat layout = %q, want %q", got, "2-0\n")
	}
	st := status(t, mnt)
	for k, want := range map[string]string{
		"page_size": "4096", "data_bytes": "12288", "data_pages": "3", "view_pages": "3",
		"runs": "3", "generation": "1", "last_error": "none", "layout": engine.LayoutPinned,
	} {
		if st[k] != want {
			t.Errorf("status %s = %q, want %q", k, st[k], want)
		}
	}
	if st["backend"] == "remap" || st["backend"] == "mmap" {
		if st["vmas"] != "3" {
			t.Errorf("status vmas = %q, want 3 (one VMA per run)", st["vmas"])
		}
	}
	if got, want := sh(t, mnt, "stat -c '%A %s %n' data layout view status"),
		"-rw-r--r-- 12288 data\n-rw-r--r-- 4 layout\n-rw-r--r-- 12288 view\n-r--r--r-- "+fmt.Sprint(len(sh(t, mnt, "cat status")))+" status\n"; got != want {
		t.Errorf("stat:\n%s\nwant:\n%s", got, want)
	}
}

func TestFreshMountIsIdentity(t *testing.T) {
	mnt, _ := testMount(t, engine.Options{Pages: 16})
	if got := sh(t, mnt, "cat layout"); got != "# identity: follows data, now 0-15\n" {
		t.Errorf("fresh layout = %q, want the identity over 0-15", got)
	}
	sh(t, mnt, "head -c 8192 /dev/urandom > data")
	if a, b := sh(t, mnt, "cat data"), sh(t, mnt, "cat view"); a != b || len(a) != 8192 {
		t.Errorf("identity view differs from data (%d vs %d bytes)", len(b), len(a))
	}
	if got := sh(t, mnt, "cat layout"); got != "# identity: follows data, now 0-1\n" {
		t.Errorf("identity layout after shrinking data = %q, want the identity over 0-1", got)
	}
}

// TestEmptyLayoutFollowsData: writing back the identity's text leaves the
// identity, which follows data; writing its range pins the view; writing
// nothing returns to the identity.
func TestEmptyLayoutFollowsData(t *testing.T) {
	mnt, _ := testMount(t, engine.Options{Source: bytes.NewReader(letters(4))})
	saved := filepath.Join(t.TempDir(), "saved")
	sh(t, mnt, "cat layout > "+saved+" && cat "+saved+" > layout")
	sh(t, mnt, "head -c 4096 /dev/zero | tr '\\0' E >> data")
	if got := pageLetters([]byte(sh(t, mnt, "cat view"))); got != "ABCDE" {
		t.Errorf("the identity's text written back, then data grown: view %q, want the identity ABCDE", got)
	}
	sh(t, mnt, "echo 0-3 > layout && cat layout > "+saved+" && cat "+saved+" > layout")
	sh(t, mnt, "head -c 4096 /dev/zero | tr '\\0' F >> data")
	if got := pageLetters([]byte(sh(t, mnt, "cat view"))); got != "ABCD" {
		t.Errorf("pinned 0-3, written back, then data grown: view %q, want ABCD", got)
	}
	sh(t, mnt, "truncate -s 20480 data")
	for _, empty := range []string{": > layout", "echo > layout", "truncate -s 0 layout", "printf '# nothing\\n' > layout"} {
		sh(t, mnt, "echo 1 > layout")
		sh(t, mnt, empty)
		if got := pageLetters([]byte(sh(t, mnt, "cat view"))); got != "ABCDE" {
			t.Errorf("after %q: view %q, want the identity ABCDE", empty, got)
		}
		if got := sh(t, mnt, "cat layout"); got != "# identity: follows data, now 0-4\n" {
			t.Errorf("after %q: layout %q, want the identity over 0-4", empty, got)
		}
	}
}

// TestBadLayoutKeepsPrevious: each bad layout fails the write or the close
// with EINVAL, leaves the view and layout as they were, and status names
// the error with its line and column.
func TestBadLayoutKeepsPrevious(t *testing.T) {
	mnt, _ := testMount(t, engine.Options{Source: bytes.NewReader(letters(8))})
	sh(t, mnt, "echo '7-0' > layout")
	cases := []struct{ text, errPart string }{
		{"0 1\n2 12\n", "line 2, column 3: page 12 is past the end of data (8 pages)"},
		{"0 x 1", "line 1, column 3"},
		{"0*99999999999", "line 1, column 1"},
		{"99999999999999999999999", "line 1, column 1"},
		{"0-3\nremap 2 5 0\n", "line 2"},
		{"remap 0 0 1", "line 1"},
	}
	for _, c := range cases {
		// dd reports a failed write or close; bash's echo would ignore the
		// close, which is why status carries the error too.
		out, err := shErr(mnt, fmt.Sprintf("printf '%s' | dd of=layout status=none", c.text))
		if err == nil || !strings.Contains(err.Error(), "Invalid argument") {
			t.Errorf("layout %q: dd succeeded or failed otherwise (%v, %s)", c.text, err, out)
		}
		if got := pageLetters([]byte(sh(t, mnt, "cat view"))); got != "HGFEDCBA" {
			t.Errorf("after bad layout %q: view %q, want the previous HGFEDCBA", c.text, got)
		}
		if got := sh(t, mnt, "cat layout"); got != "7-0\n" {
			t.Errorf("after bad layout %q: layout %q, want 7-0", c.text, got)
		}
		st := status(t, mnt)
		if !strings.Contains(st["last_error"], c.errPart) {
			t.Errorf("after bad layout %q: last_error %q, want it to contain %q", c.text, st["last_error"], c.errPart)
		}
		if st["generation"] != "1" {
			t.Errorf("after bad layout %q: generation %s, want 1", c.text, st["generation"])
		}
	}
	// bash's echo: the close error is lost, status still says why.
	sh(t, mnt, "echo '0 9' > layout || true")
	if st := status(t, mnt); !strings.Contains(st["last_error"], "line 1, column 3: page 9 is past the end of data (8 pages)") {
		t.Errorf("last_error after echo = %q", st["last_error"])
	}
	// A good layout clears it.
	sh(t, mnt, "echo 0 > layout")
	if st := status(t, mnt); st["last_error"] != "none" || st["generation"] != "2" {
		t.Errorf("after a good layout: last_error %q generation %s", st["last_error"], st["generation"])
	}
	// Appending is not writing a layout.
	if _, err := shErr(mnt, "echo 1 >> layout"); err == nil {
		t.Errorf("echo >> layout succeeded")
	}
}

// TestLayoutInChunks: a layout arrives in pieces of any size.
func TestLayoutInChunks(t *testing.T) {
	mnt, _ := testMount(t, engine.Options{Source: bytes.NewReader(letters(16))})
	sh(t, mnt, "printf '# reverse, in one-byte writes\\n15-8, 7 6 5\\n4-0\\n' | dd of=layout bs=1 status=none")
	if got := pageLetters([]byte(sh(t, mnt, "cat view"))); got != "PONMLKJIHGFEDCBA" {
		t.Errorf("view after 1-byte writes %q", got)
	}
	// Over a megabyte of text, in 64 KiB and 1 MiB writes.
	var big strings.Builder
	for big.Len() < 1<<20+4096 {
		big.WriteString("# a long comment line to make the layout big\n0-15\n")
	}
	src := filepath.Join(t.TempDir(), "big.layout")
	if err := os.WriteFile(src, []byte(big.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, bs := range []string{"64k", "1M"} {
		sh(t, mnt, "dd if="+src+" of=layout bs="+bs+" status=none")
		st := status(t, mnt)
		want := fmt.Sprint(16 * strings.Count(big.String(), "0-15"))
		if st["view_pages"] != want || st["last_error"] != "none" {
			t.Errorf("bs=%s: view_pages %s (want %s), last_error %s", bs, st["view_pages"], want, st["last_error"])
		}
	}
}

func TestDataCopyAndTruncate(t *testing.T) {
	mnt, _ := testMount(t, engine.Options{Pages: 2})
	src := filepath.Join(t.TempDir(), "src")
	if err := os.WriteFile(src, append(letters(5), "tail"...), 0o644); err != nil {
		t.Fatal(err)
	}
	sh(t, mnt, "cp "+src+" data")
	if got, _ := os.ReadFile(src); sh(t, mnt, "cat data") != string(got) {
		t.Fatal("cp FILE data: content differs")
	}
	st := status(t, mnt)
	if st["data_bytes"] != fmt.Sprint(5*pageSize+4) || st["data_pages"] != "6" || st["view_pages"] != "6" {
		t.Errorf("after cp: %v", st)
	}
	// The view covers whole pages: the last one is "tail" then zeros.
	view := sh(t, mnt, "cat view")
	if len(view) != 6*pageSize || view[5*pageSize:5*pageSize+4] != "tail" || strings.Trim(view[5*pageSize+4:], "\x00") != "" {
		t.Errorf("view of a 5-page-and-4-byte store is %d bytes, wrong tail", len(view))
	}
	sh(t, mnt, "echo '4 3 2 1 0' > layout")
	sh(t, mnt, "truncate -s 5000 data")
	if got := pageLetters([]byte(sh(t, mnt, "cat view"))); got != "000?A" {
		t.Errorf("after truncating below referenced pages: view %q, want 000?A (B's page cut at 5000 bytes)", got)
	}
	if st := status(t, mnt); st["data_bytes"] != "5000" || st["view_pages"] != "5" {
		t.Errorf("after truncate: %v", st)
	}
	sh(t, mnt, "truncate -s 0 data && cp "+src+" data")
	if got := pageLetters([]byte(sh(t, mnt, "cat view"))); got != "EDCBA" {
		t.Errorf("after growing back: view %q, want EDCBA", got)
	}
}

// TestDD drives view and data with dd, small and large blocks, offsets.
func TestDD(t *testing.T) {
	mnt, _ := testMount(t, engine.Options{Source: bytes.NewReader(letters(256))})
	sh(t, mnt, "echo '255-0' > layout")
	for _, bs := range []string{"512", "4k", "64k", "1M"} {
		got := sh(t, mnt, "dd if=view bs="+bs+" status=none | md5sum")
		want := sh(t, mnt, "for i in $(seq 255 -1 0); do dd if=data bs=4096 skip=$i count=1 status=none; done | md5sum")
		if got != want {
			t.Errorf("dd if=view bs=%s differs from data read backwards", bs)
		}
	}
	// Overwrite view page 1 (store page 254) in place.
	sh(t, mnt, "head -c 4096 /dev/zero | tr '\\0' '#' | dd of=view bs=4096 seek=1 conv=notrunc status=none")
	if got := sh(t, mnt, "dd if=data bs=4096 skip=254 count=1 status=none | head -c 3"); got != "###" {
		t.Errorf("write through view page 1 landed wrong: data page 254 starts %q", got)
	}
	// Reads at and past the end.
	if got := sh(t, mnt, "dd if=view bs=4096 skip=256 status=none | wc -c"); strings.TrimSpace(got) != "0" {
		t.Errorf("read at the end of view returned %s bytes", got)
	}
	if _, err := shErr(mnt, "echo x | dd of=view bs=4096 seek=256 conv=notrunc status=none"); err == nil {
		t.Errorf("write past the end of the view succeeded")
	}
}

// TestViewCoherence: descriptors already open see new layouts and writes
// at once; aliases show every write.
func TestViewCoherence(t *testing.T) {
	mnt, _ := testMount(t, engine.Options{Source: bytes.NewReader(letters(4))})
	view, err := os.Open(filepath.Join(mnt, "view"))
	if err != nil {
		t.Fatal(err)
	}
	defer view.Close()
	read := func() string {
		b := make([]byte, 16*pageSize)
		n, err := view.ReadAt(b, 0)
		if n == 0 && err != nil {
			t.Fatalf("read view: %v", err)
		}
		return pageLetters(b[:n])
	}
	if got := read(); got != "ABCD" {
		t.Fatalf("open view reads %q", got)
	}
	sh(t, mnt, "echo '3 0 3 0' > layout")
	if got := read(); got != "DADA" {
		t.Errorf("open view after layout change reads %q, want DADA", got)
	}
	sh(t, mnt, "head -c 4096 /dev/zero | tr '\\0' Z | dd of=view bs=4096 seek=2 conv=notrunc status=none")
	if got := read(); got != "ZAZA" {
		t.Errorf("after writing view page 2 (store page 3): %q, want ZAZA (aliased at page 0)", got)
	}
	if got := pageLetters([]byte(sh(t, mnt, "cat data"))); got != "ABCZ" {
		t.Errorf("data after the write through view: %q, want ABCZ", got)
	}
	sh(t, mnt, "head -c 4096 /dev/zero | tr '\\0' Y | dd of=data bs=4096 seek=0 conv=notrunc status=none")
	if got := read(); got != "ZYZY" {
		t.Errorf("after writing data page 0: %q, want ZYZY", got)
	}
}

// TestMmapReader: a process that maps the view shared sees layout changes
// and writes without remapping.
func TestMmapReader(t *testing.T) {
	mnt, _ := testMount(t, engine.Options{Source: bytes.NewReader(letters(4))})
	sh(t, mnt, "echo '0-3' > layout")
	c := startMmapClient(t, filepath.Join(mnt, "view"))
	if got := c.show(t); got != "ABCD" {
		t.Fatalf("mmap of view shows %q", got)
	}
	sh(t, mnt, "echo '3-0' > layout")
	if got := c.show(t); got != "DCBA" {
		t.Errorf("mmap after layout change: %q, want DCBA", got)
	}
	sh(t, mnt, "head -c 4096 /dev/zero | tr '\\0' Q | dd of=data bs=4096 seek=1 conv=notrunc status=none")
	if got := c.show(t); got != "DCQA" {
		t.Errorf("mmap after data write: %q, want DCQA", got)
	}
	sh(t, mnt, "head -c 4096 /dev/zero | tr '\\0' R | dd of=view bs=4096 seek=0 conv=notrunc status=none")
	if got := c.show(t); got != "RCQA" {
		t.Errorf("mmap after view write: %q, want RCQA", got)
	}
}

// TestConcurrentReadersAndLayouts: readers never see a page from a half-applied layout.
// Through a read-write descriptor (direct I/O: one read is one READ) a whole read shows one
// layout; through a read-only one (the page cache, filled page by page) every page shows one
// of the layouts.
func TestConcurrentReadersAndLayouts(t *testing.T) {
	const pages = 64
	mnt, _ := testMount(t, engine.Options{Source: bytes.NewReader(letters(pages))})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	ident := pageLetters(letters(pages))
	rev := reverse(ident)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		direct := i%2 == 0
		go func() {
			defer wg.Done()
			flag := os.O_RDONLY
			if direct {
				flag = os.O_RDWR
			}
			f, err := os.OpenFile(filepath.Join(mnt, "view"), flag, 0)
			if err != nil {
				errs <- err
				return
			}
			defer f.Close()
			buf := make([]byte, pages*pageSize)
			for {
				select {
				case <-stop:
					return
				default:
				}
				n, _ := f.ReadAt(buf, 0)
				got := pageLetters(buf[:n])
				if direct && got != ident && got != rev {
					errs <- fmt.Errorf("read (direct I/O) a view that is neither layout: %q", got)
					return
				}
				for p := range got {
					if got[p] != ident[p] && got[p] != rev[p] {
						errs <- fmt.Errorf("read a view page %d that is neither layout's: %q", p, got)
						return
					}
				}
			}
		}()
	}
	for i := 0; i < 50; i++ {
		sh(t, mnt, "echo '63-0' > layout; echo '0-63' > layout")
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func reverse(s string) string {
	b := []byte(s)
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}

func TestGeneratedFiles(t *testing.T) {
	mnt, _ := testMount(t, engine.Options{Source: bytes.NewReader(letters(3))})
	sh(t, mnt, "echo '2 1 0' > layout")
	m := sh(t, mnt, "cat map")
	for _, want := range []string{"view 0 -> store 2", "view 1 -> store 1", "view 2 -> store 0"} {
		if !strings.Contains(m, want) {
			t.Errorf("map lacks %q:\n%s", want, m)
		}
	}
	svg := sh(t, mnt, "cat map.svg")
	if !strings.HasPrefix(strings.TrimSpace(svg), "<") || !strings.Contains(svg, "viewBox") {
		t.Errorf("map.svg is not an SVG:\n%.200s", svg)
	}
	if _, err := shErr(mnt, "echo x > status"); err == nil {
		t.Error("writing status succeeded")
	}
	if st := status(t, mnt); st["backend"] == "remap" || st["backend"] == "mmap" {
		vmas := sh(t, mnt, "cat vmas")
		if n := strings.Count(vmas, "\n"); fmt.Sprint(n) != st["vmas"] {
			t.Errorf("vmas has %d lines, status says %s:\n%s", n, st["vmas"], vmas)
		}
	}
	// A reader of status in small chunks gets one consistent snapshot.
	if a, b := sh(t, mnt, "dd if=status bs=7 status=none"), sh(t, mnt, "cat status"); a != b {
		t.Errorf("status read in 7-byte chunks differs:\n%s\nvs\n%s", a, b)
	}
}
