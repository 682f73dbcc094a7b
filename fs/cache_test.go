package fs

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/nlfs/nlfs/engine"
)

// readLog records the READs the daemon serves (the engine's read events), by file.
type readLog struct {
	mu    sync.Mutex
	reads map[string][]engine.Extent // "data", or the view's name ("" the main view)
}

func logReads(t *testing.T, e *engine.Engine) *readLog {
	l := &readLog{reads: map[string][]engine.Extent{}}
	cancel := e.Subscribe(func(ev engine.Event) {
		key := ev.View
		switch ev.Kind {
		case engine.DataRead:
			key = "data"
		case engine.ViewRead:
		default:
			return
		}
		l.mu.Lock()
		l.reads[key] = append(l.reads[key], engine.Extent{Off: ev.Off, Len: ev.Len})
		l.mu.Unlock()
	})
	t.Cleanup(cancel)
	return l
}

// take returns the READs of file since the last take, as the pages they cover.
func (l *readLog) take(file string) []int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var pages []int64
	for _, x := range l.reads[file] {
		for p := x.Off / int64(pageSize); p*int64(pageSize) < x.Off+x.Len; p++ {
			pages = append(pages, p)
		}
	}
	delete(l.reads, file)
	return pages
}

// TestCachedReads: a read-only open of view or data is served from the page cache, kept
// across opens: reading an unchanged file again asks the daemon for nothing, and after a
// write only the pages that show the store page written are asked for again — in view, where
// the layout shows it, not where data has it. A read-write open is served with direct I/O:
// every read is a READ.
func TestCachedReads(t *testing.T) {
	mnt, e := testMount(t, engine.Options{Source: bytes.NewReader(letters(16))})
	sh(t, mnt, "echo 15-0 > layout")
	reads := logReads(t, e)
	for _, file := range []string{"view", "data"} {
		key := file
		if file == "view" {
			key = ""
		}
		sh(t, mnt, "cat "+file+" >/dev/null")
		if got := reads.take(key); len(got) < 16 {
			t.Errorf("first cat %s: READs of pages %v, want all 16 pages", file, got)
		}
		sh(t, mnt, "cat "+file+" >/dev/null; cat "+file+" >/dev/null")
		if got := reads.take(key); len(got) != 0 {
			t.Errorf("cat %s again (unchanged, new opens): READs of pages %v, want none (the cache is kept)", file, got)
		}
		sh(t, mnt, "exec 3<>"+file+"; cat <&3 >/dev/null")
		if got := reads.take(key); len(got) < 16 {
			t.Errorf("cat of a read-write descriptor of %s: READs of pages %v, want all 16 (direct I/O)", file, got)
		}
	}
	// Store page 3 is view page 12 (15-0).
	sh(t, mnt, "printf Z | dd of=data bs=1 seek=$((3*4096)) conv=notrunc status=none")
	if got := sh(t, mnt, "dd if=view bs=4096 skip=12 count=1 status=none | head -c 1"); got != "Z" {
		t.Errorf("view page 12 after the write through data: %q, want Z", got)
	}
	sh(t, mnt, "cat view data >/dev/null")
	if got, want := fmt.Sprint(reads.take("")), "[12]"; got != want {
		t.Errorf("READs of view after a write of store page 3: pages %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(reads.take("data")), "[3]"; got != want {
		t.Errorf("READs of data after a write of store page 3: pages %s, want %s", got, want)
	}
}

// TestRefusedInvalidation: a notification the kernel refuses is retried and said in status,
// never only logged: a cached reader still gets the new bytes once a retry goes through, and
// last_error tells what failed.
func TestRefusedInvalidation(t *testing.T) {
	mnt, _ := testMount(t, engine.Options{Source: bytes.NewReader(letters(4))})
	sh(t, mnt, "echo 3-0 > layout; cat view >/dev/null") // view's pages cached
	var fail *failingNotifier
	restore := plantNotifier(rootOf(t, mnt).viewCaches()[0], func(n contentNotifier) contentNotifier {
		fail = &failingNotifier{contentNotifier: n, errno: syscall.EIO}
		fail.fails.Store(2) // the first two tries of the next change
		return fail
	})
	defer restore()
	sh(t, mnt, "printf Q | dd of=data bs=1 seek=$((2*4096)) conv=notrunc status=none") // store page 2: view page 1
	if got := sh(t, mnt, "dd if=view bs=4096 skip=1 count=1 status=none | head -c 1"); got != "Q" {
		t.Errorf("view page 1 after the write, the invalidation retried: %q, want Q", got)
	}
	if le := status(t, mnt)["last_error"]; !strings.Contains(le, "stale cached pages of view") || !strings.Contains(le, "input/output error") {
		t.Errorf("last_error %q: want the refused invalidation", le)
	}
}
