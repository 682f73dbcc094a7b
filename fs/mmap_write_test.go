package fs

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/nlfs/nlfs/engine"
)

// The writable-mapping tests: every way a mapped page reaches the daemon (msync, munmap then
// close, close while mapped, exit, a forked child), through view and data, with aliases, a
// ring buffer across its seam, and layouts and truncates while a mapping is live. Each client
// runs in its own process under a watchdog (mapper_client_test.go): a hang aborts the FUSE
// connection and fails the test. After each flush, what was stored must show through every
// file and every mapping, by read(2) and by mmap.

// flushes are the ways a client hands its stores to the kernel and to the daemon.
var flushes = []struct {
	name string
	run  func(c *mapperClient)
}{
	{"msync", func(c *mapperClient) { c.ok("msync") }},
	{"munmap-then-close", func(c *mapperClient) { c.ok("munmap", "close") }},
	{"exit", func(c *mapperClient) { c.quit() }},
}

func TestMmapWriteView(t *testing.T) {
	for _, fl := range flushes {
		t.Run(fl.name, func(t *testing.T) {
			mnt, _ := testMount(t, engine.Options{Source: bytes.NewReader(letters(4))})
			sh(t, mnt, "echo 3-0 > layout") // view: D C B A
			reader := startMapper(t, mnt, "view")
			dataReader := startMapper(t, mnt, "data")
			if got := reader.do("show"); got != "DCBA" {
				t.Fatalf("view mapping shows %q, want DCBA", got)
			}
			w := startMapper(t, mnt, "view")
			w.ok("poke 0 X") // view page 0 is store page 3
			fl.run(w)
			wantViewData(t, mnt, "XCBA", "ABCX")
			if got := reader.do("show"); got != "XCBA" {
				t.Errorf("another process's view mapping after %s: %q, want XCBA", fl.name, got)
			}
			if got := dataReader.do("show"); got != "ABCX" {
				t.Errorf("a data mapping after %s: %q, want ABCX", fl.name, got)
			}
		})
	}
}

func TestMmapWriteData(t *testing.T) {
	for _, fl := range flushes {
		t.Run(fl.name, func(t *testing.T) {
			mnt, _ := testMount(t, engine.Options{Source: bytes.NewReader(letters(4))})
			sh(t, mnt, "echo 3-0 > layout")
			viewReader := startMapper(t, mnt, "view")
			viewReader.do("show")
			w := startMapper(t, mnt, "data")
			w.ok("poke 1 Y")
			fl.run(w)
			wantViewData(t, mnt, "DCYA", "AYCD")
			if got := viewReader.do("show"); got != "DCYA" {
				t.Errorf("a view mapping after %s of data: %q, want DCYA", fl.name, got)
			}
		})
	}
}

// TestMmapCloseWhileMapped: the descriptor closed first, the mapping written after, then
// msync (which reaches the daemon through the mapping's own reference to the file).
func TestMmapCloseWhileMapped(t *testing.T) {
	mnt, _ := testMount(t, engine.Options{Source: bytes.NewReader(letters(4))})
	w := startMapper(t, mnt, "view")
	w.ok("close", "poke 2 Z", "msync")
	wantViewData(t, mnt, "ABZD", "ABZD")
	w.ok("poke 3 Q")
	w.quit()
	wantViewData(t, mnt, "ABZQ", "ABZQ")
}

// TestMmapFork: a forked child writes through the mapping it inherited; the parent flushes.
func TestMmapFork(t *testing.T) {
	for _, file := range []string{"view", "data"} {
		t.Run(file, func(t *testing.T) {
			mnt, _ := testMount(t, engine.Options{Source: bytes.NewReader(letters(4))})
			sh(t, mnt, "echo 1 0 3 2 > layout")
			w := startMapper(t, mnt, file)
			w.ok("fork 0 F", "poke 3 P", "msync")
			if file == "view" {
				wantViewData(t, mnt, "FADP", "AFPD") // view page 0 = store 1, view page 3 = store 2
			} else {
				wantViewData(t, mnt, "BFPC", "FBCP")
			}
		})
	}
}

// TestMmapAliases: one store page at two view pages (0-3 0-3): a store through one alias,
// once flushed, shows at the other, in the writer's own mapping, in another process's
// mapping and by read(2); a write(2) through one alias shows in mappings at once.
func TestMmapAliases(t *testing.T) {
	mnt, _ := testMount(t, engine.Options{Source: bytes.NewReader(letters(4))})
	sh(t, mnt, "echo 0-3 0-3 > layout")
	other := startMapper(t, mnt, "view")
	if got := other.do("show"); got != "ABCDABCD" {
		t.Fatalf("view mapping %q", got)
	}
	w := startMapper(t, mnt, "view")
	w.ok("poke 1 K", "msync")
	for who, c := range map[string]*mapperClient{"the writer's own": w, "another process's": other} {
		if got := c.do("show"); got != "AKCDAKCD" {
			t.Errorf("%s mapping after msync: %q, want AKCDAKCD", who, got)
		}
	}
	wantViewData(t, mnt, "AKCDAKCD", "AKCD")
	// A write(2) through view page 6 (store page 2) shows in both mappings at once.
	sh(t, mnt, "head -c 4096 /dev/zero | tr '\\0' L | dd of=view bs=4096 seek=6 conv=notrunc status=none")
	for who, c := range map[string]*mapperClient{"the writer's": w, "the other": other} {
		if got := c.do("show"); got != "AKLDAKLD" {
			t.Errorf("%s mapping after a write(2) through the alias: %q, want AKLDAKLD", who, got)
		}
	}
}

// TestMmapRingBuffer: the ring-buffer trick. The store (4 pages) is mapped twice in a row
// (0-3 0-3), so a record that runs off the end of the ring's last page continues, in memory,
// into its first page: one store into the mapping that crosses the seam lands at the end of
// store page 3 and the start of store page 0.
func TestMmapRingBuffer(t *testing.T) {
	mnt, _ := testMount(t, engine.Options{Pages: 4})
	sh(t, mnt, "echo 0-3 0-3 > layout")
	w := startMapper(t, mnt, "view")
	record := strings.Repeat("R", 200)
	seam := 4 * pageSize
	w.ok("put "+strconv.Itoa(seam-100)+" "+record, "msync")
	data := sh(t, mnt, "cat data")
	if got := data[seam-100:] + data[:100]; got != record {
		t.Errorf("data around the seam: %q, want the record", got)
	}
	if strings.Count(data, "R") != 200 {
		t.Errorf("data holds %d R bytes, want 200", strings.Count(data, "R"))
	}
	// Read back through the other copy of the ring: view pages 7 and 0.
	view := sh(t, mnt, "cat view")
	if got := view[2*seam-100:] + view[:100]; got != record {
		t.Errorf("view around its end and start: %q, want the record", got)
	}
}

// TestMmapLiveLayoutAndTruncate: layouts applied and data truncated while a writable mapping
// of view is live. Stores made before a layout change land where they were made (the old
// layout's store page); a store into a page whose store page a truncate removed is refused
// at msync, not lost silently and never a hang; growing data back works.
func TestMmapLiveLayoutAndTruncate(t *testing.T) {
	mnt, _ := testMount(t, engine.Options{Source: bytes.NewReader(letters(4))})
	sh(t, mnt, "echo 0-3 > layout")
	w := startMapper(t, mnt, "view")
	w.ok("poke 0 W")                // store page 0, not flushed yet
	sh(t, mnt, "echo 3-0 > layout") // view 0 is now store page 3
	wantViewData(t, mnt, "DCBW", "WBCD")
	if got := w.do("show"); got != "DCBW" {
		t.Errorf("the writer's mapping after the layout change: %q, want DCBW", got)
	}
	w.ok("poke 1 V", "msync") // view page 1 = store page 2
	wantViewData(t, mnt, "DVBW", "WBVD")

	sh(t, mnt, "truncate -s 8192 data") // store pages 2 and 3 go: view pages 0, 1 read zeros
	wantViewData(t, mnt, "00BW", "WB")
	if got := w.do("show"); got != "00BW" {
		t.Errorf("the writer's mapping after the truncate: %q, want 00BW", got)
	}
	w.ok("poke 0 U") // store page 3, gone
	if got := w.do("msync"); !strings.HasPrefix(got, "err ") {
		t.Errorf("msync of a store into a page past data: %q, want an error", got)
	}
	sh(t, mnt, "truncate -s 16384 data")
	w.ok("poke 1 T", "msync")
	wantViewData(t, mnt, "0TBW", "WBT0")
	if got := status(t, mnt)["generation"]; got != "2" {
		t.Errorf("generation %s, want 2", got)
	}
}

// wantViewData checks view and data as read(2) sees them, page by page as letters.
func wantViewData(t *testing.T, mnt, view, data string) {
	t.Helper()
	if got := pageLetters([]byte(sh(t, mnt, "cat view"))); got != view {
		t.Errorf("cat view: %q, want %q", got, view)
	}
	if got := pageLetters([]byte(sh(t, mnt, "cat data"))); got != data {
		t.Errorf("cat data: %q, want %q", got, data)
	}
}
