package fs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nlfs/nlfs/layout"

	"github.com/nlfs/nlfs/engine"

	"github.com/nlfs/nlfs/run"
)

// tagPages writes each listed store page's tag (its number + 1, in its
// first 8 bytes) straight into the store, not through the mount.
func tagPages(t *testing.T, e *engine.Engine, pages []int64) {
	t.Helper()
	var tag [8]byte
	for _, p := range pages {
		binary.LittleEndian.PutUint64(tag[:], uint64(p+1))
		if _, err := e.WriteData(tag[:], p*int64(pageSize)); err != nil {
			t.Fatal(err)
		}
	}
}

// wantBudgetBackend checks status for a view of runs runs: above the VMA
// budget (max_map_count less what the daemon holds) it must be gather, and
// say so; well under it, a mapping backend.
func wantBudgetBackend(t *testing.T, st map[string]string, runs int) {
	t.Helper()
	mmc, err := strconv.Atoi(st["max_map_count"])
	if err != nil {
		t.Fatalf("status max_map_count %q", st["max_map_count"])
	}
	switch {
	case runs > mmc:
		if st["backend"] != "gather" || !strings.Contains(st["backend_reason"], "exceed the VMA budget") ||
			!strings.Contains(st["backend_reason"], "vm.max_map_count "+st["max_map_count"]) {
			t.Errorf("%d runs over max_map_count %d: backend %q (%s), want gather naming the VMA budget",
				runs, mmc, st["backend"], st["backend_reason"])
		}
		if st["vmas"] != "0" {
			t.Errorf("gather view holds %s VMAs", st["vmas"])
		}
	case runs < mmc/2:
		if st["backend"] == "gather" {
			t.Errorf("%d runs, max_map_count %d: gather (%s), want a mapping backend", runs, mmc, st["backend_reason"])
		}
	}
	t.Logf("%d runs: backend %s (%s)", runs, st["backend"], st["backend_reason"])
}

// TestLargeReverse: a 100,000-page reverse view (100,000 runs, over the
// default VMA limit) through a real mount: every page of it read back by
// another process, a write through it landing in the right store page.
func TestLargeReverse(t *testing.T) {
	if testing.Short() {
		t.Skip("large view (-short)")
	}
	const n = 100000
	mnt, e := testMount(t, engine.Options{Pages: n})
	all := make([]int64, n)
	for i := range all {
		all[i] = int64(i)
	}
	tagPages(t, e, all)
	sh(t, mnt, fmt.Sprintf("echo '%d-0' > layout", n-1))
	st := status(t, mnt)
	if st["view_pages"] != fmt.Sprint(n) || st["runs"] != fmt.Sprint(n) || st["last_error"] != "none" {
		t.Fatalf("status after the reverse: %v", st)
	}
	wantBudgetBackend(t, st, n)
	tags := pageTags(t, filepath.Join(mnt, "view"), nil)
	if len(tags) != n {
		t.Fatalf("read %d view pages, want %d", len(tags), n)
	}
	for v, tag := range tags {
		if want := uint64(n - v); tag != want { // view page v shows store page n-1-v
			t.Fatalf("view page %d shows store page %d, want %d", v, int64(tag)-1, want-1)
		}
	}
	// A write through view page 5 lands in store page n-6.
	sh(t, mnt, "printf 'written!' | dd of=view bs=4096 seek=5 conv=notrunc status=none")
	if got := sh(t, mnt, fmt.Sprintf("dd if=data bs=4096 skip=%d count=1 status=none | head -c 8", n-6)); got != "written!" {
		t.Errorf("data page %d starts %q after writing view page 5", n-6, got)
	}
	if got := sh(t, mnt, "cat layout"); got != fmt.Sprintf("%d-0\n", n-1) {
		t.Errorf("layout reads %q", got)
	}
}

// TestMillionPagePermutation: a random permutation of a 4 GiB store
// (1,048,576 pages, about as many runs) written through the layout file:
// served by gather, which status says is for the VMA budget; sampled pages
// read back by another process.
func TestMillionPagePermutation(t *testing.T) {
	if testing.Short() {
		t.Skip("large view (-short)")
	}
	const n = 1 << 20
	mnt, e := testMount(t, engine.Options{Pages: n}) // sparse: only the tagged pages take memory
	runs, err := layout.Generate("shuffle", []int64{n, 2026})
	if err != nil {
		t.Fatal(err)
	}
	pages := run.Pages(runs)
	rng := rand.New(rand.NewPCG(1, 2))
	sample := []int64{0, 1, n/2 - 1, n - 2, n - 1}
	for range 2000 {
		sample = append(sample, rng.Int64N(n))
	}
	stored := make([]int64, len(sample))
	for i, v := range sample {
		stored[i] = pages[v]
	}
	tagPages(t, e, stored)

	src := filepath.Join(t.TempDir(), "shuffle.layout")
	if err := os.WriteFile(src, []byte(layout.Canonical(runs)), 0o644); err != nil {
		t.Fatal(err)
	}
	sh(t, mnt, "dd if="+src+" of=layout bs=1M status=none")
	st := status(t, mnt)
	if st["view_pages"] != fmt.Sprint(n) || st["runs"] != fmt.Sprint(len(runs)) || st["last_error"] != "none" {
		t.Fatalf("status after the permutation: %v", st)
	}
	wantBudgetBackend(t, st, len(runs))

	tags := pageTags(t, filepath.Join(mnt, "view"), sample)
	if len(tags) != len(sample) {
		t.Fatalf("read %d sampled pages, want %d", len(tags), len(sample))
	}
	for i, v := range sample {
		if want := uint64(pages[v] + 1); tags[i] != want {
			t.Fatalf("view page %d shows store page %d, want %d", v, int64(tags[i])-1, pages[v])
		}
	}
	// The first 64 MiB in 1 MiB reads: the tagged pages where they belong,
	// zeros elsewhere.
	const headPages = 64 << 20 / 4096
	head := pageTags(t, filepath.Join(mnt, "view"), []int64{-headPages})
	if len(head) != headPages {
		t.Fatalf("read %d view pages, want %d", len(head), headPages)
	}
	tagged := map[int64]bool{}
	for _, p := range stored {
		tagged[p] = true
	}
	for v, tag := range head {
		want := uint64(0)
		if tagged[pages[v]] {
			want = uint64(pages[v] + 1)
		}
		if tag != want {
			t.Fatalf("view page %d: tag %d, want %d", v, tag, want)
		}
	}
}

// TestKilledReadersReleaseLeases: readers killed in the middle of 1 MiB
// reads (the reply then fails, or is interrupted) must not leave a lease,
// and so the mapper's read lock, behind: writes and layouts go on after.
func TestKilledReadersReleaseLeases(t *testing.T) {
	mnt, e := testMount(t, engine.Options{Pages: 16 << 20 / 4096})
	sh(t, mnt, "dd if=/dev/urandom of=data bs=1M count=16 conv=notrunc status=none")
	for round := range 5 {
		// Four readers of view and data in a loop, killed with SIGKILL
		// after a moment.
		sh(t, mnt, `pids=; for f in view data view data; do
			(while :; do dd if=$f of=/dev/null bs=1M status=none; done) & pids="$pids $!"
		done; sleep 0.2; for p in $pids; do pkill -KILL -P $p; kill -KILL $p; done; wait 2>/dev/null; true`)
		done := make(chan error, 1)
		go func() {
			_, err := e.WriteData([]byte("still writable"), int64(round))
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: a write to the store is still blocked 10 s after the readers died: a lease was not released", round)
		}
	}
	sh(t, mnt, "echo '4095-0' > layout")
	if st := status(t, mnt); st["generation"] != "1" || st["last_error"] != "none" {
		t.Errorf("layout after the killed readers: %v", st)
	}
}

// TestMmapDataReader: a process that maps data shared sees writes through
// view (which reach the store behind data's back: the daemon drops data's
// cached pages) and through data itself, and layouts leave it alone.
func TestMmapDataReader(t *testing.T) {
	mnt, _ := testMount(t, engine.Options{Source: bytes.NewReader(letters(4))})
	sh(t, mnt, "echo '3-0' > layout")
	c := startMmapClient(t, filepath.Join(mnt, "data"))
	if got := c.show(t); got != "ABCD" {
		t.Fatalf("mmap of data shows %q", got)
	}
	sh(t, mnt, "head -c 4096 /dev/zero | tr '\\0' V | dd of=view bs=4096 seek=0 conv=notrunc status=none")
	if got := c.show(t); got != "ABCV" {
		t.Errorf("mmap of data after writing view page 0 (store page 3): %q, want ABCV", got)
	}
	sh(t, mnt, "head -c 4096 /dev/zero | tr '\\0' W | dd of=data bs=4096 seek=1 conv=notrunc status=none")
	if got := c.show(t); got != "AWCV" {
		t.Errorf("mmap of data after writing data page 1: %q, want AWCV", got)
	}
	// Writes with nobody reading in between skip the invalidation; the
	// next write after a read must not.
	sh(t, mnt, "head -c 4096 /dev/zero | tr '\\0' X | dd of=view bs=4096 seek=3 conv=notrunc status=none")
	sh(t, mnt, "head -c 4096 /dev/zero | tr '\\0' Y | dd of=view bs=4096 seek=2 conv=notrunc status=none")
	if got := c.show(t); got != "XYCV" {
		t.Errorf("mmap of data after two writes through view: %q, want XYCV", got)
	}
	sh(t, mnt, "head -c 4096 /dev/zero | tr '\\0' Z | dd of=view bs=4096 seek=1 conv=notrunc status=none")
	if got := c.show(t); got != "XYZV" {
		t.Errorf("mmap of data after a third write through view: %q, want XYZV", got)
	}
}
