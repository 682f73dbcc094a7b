package fs

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nlfs/nlfs/engine"
)

// TestWaitRule: a request of a kind that must never wait — here a READ that fills pages of
// view for a cached reader, the kernel holding them locked until the reply — that calls the
// waiting path is refused at once and reported, instead of hanging the reader (the
// notification would wait for the very pages the READ holds). The planted call queues a
// whole drop of view and waits for it, as a handler that waited would.
func TestWaitRule(t *testing.T) {
	mnt, _ := testMount(t, engine.Options{Source: bytes.NewReader(letters(16))})
	root := rootOf(t, mnt)
	view := root.viewCaches()[0]
	var once sync.Once
	waited := make(chan waitRight, 1)
	call := func(ctx context.Context) {
		once.Do(func() {
			right := root.reqs.rightOf(ctx)
			view.held.Store(true) // as if pages were cached: the drop is sent, not skipped
			view.queueWhole()
			view.sendQueued(right)
			waited <- right
		})
	}
	planted.beforeRead.Store(&call)
	defer planted.beforeRead.Store(nil)

	// Were the wait not refused, the reader would hang: the watchdog then aborts the mount
	// and fails the test within seconds.
	stop := watchdog(t, mnt, 10*time.Second, "cat view, whose READ calls the waiting path")
	_, err := shErr(mnt, "cat view >/dev/null") // a read-only open: through the page cache
	stop()
	if err != nil {
		t.Fatalf("cat view: %v", err)
	}
	if right := <-waited; right != waitNever {
		t.Errorf("a READ was granted %q, want %q", right, waitNever)
	}
	n, last := root.WaitsRefused()
	if n == 0 || !strings.Contains(last, "never wait") || !strings.Contains(last, "view") {
		t.Errorf("the refused wait was not reported: %d, %q", n, last)
	}
	root.refusals.n.Store(0) // planted: not a failure of this mount
}

// TestManyReleasesWithDirtyMappings: RELEASE and a mapping's writeback WRITEs are both
// background requests, which the kernel lets only so many of at once (max_background, 12 by
// default). Two dozen `: > layout` at once, each applying the empty layout at its release,
// while a process holds stores in a mapping of view not yet written back: a release that
// waited for view's cache (which needs those writeback WRITEs) could take every background
// slot and wait for a WRITE that cannot be sent. Releases never wait (the layout goes to a
// goroutine), so all of it ends, and the stores land.
func TestManyReleasesWithDirtyMappings(t *testing.T) {
	mnt, _ := testMount(t, engine.Options{Source: bytes.NewReader(letters(16))})
	sh(t, mnt, "echo 15-0 > layout")
	m := startMapper(t, mnt, "view")
	for round, marks := range []string{"XYZ", "PQR", "KLM"} {
		m.ok("poke 0 "+marks[0:1], "poke 5 "+marks[1:2], "poke 15 "+marks[2:3]) // dirty pages, not written back
		stop := watchdog(t, mnt, 30*time.Second, "24 releases at once with dirty mapped pages")
		sh(t, mnt, "for i in $(seq 24); do : > layout & done; wait; echo 15-0 > layout")
		m.ok("msync")
		stop()
		// Stores written back before the first empty layout landed under 15-0: store pages
		// 15, 10, 0; any later ones under the identity or 15-0 again. Either way data shows
		// the three letters somewhere, and nothing hung.
		got := pageLetters([]byte(sh(t, mnt, "cat data")))
		for _, c := range marks {
			if !strings.ContainsRune(got, c) {
				t.Errorf("round %d: data %q lost the store %c", round, got, c)
			}
		}
	}
}
