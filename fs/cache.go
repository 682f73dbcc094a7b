package fs

import (
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nlfs/nlfs/engine"
	"github.com/nlfs/nlfs/run"
)

// Keeping the kernel's caches exact, and why no request can hang on it.
//
// The kernel caches pages of a FUSE file that a process maps (data and every view allow
// mmap). When the store changes behind the kernel's back — a write through another file, a
// layout, a truncate — the daemon drops the stale pages with a notification
// (FUSE_NOTIFY_INVAL_INODE, Inode.NotifyContent). The kernel handles that notification by
// locking each page and waiting for any page under writeback. Some requests reach the daemon
// while the kernel holds exactly such pages and waits for the reply:
//
//   - a WRITE from writeback (msync, munmap plus close, the flusher; FUSE_WRITE_CACHE): the
//     pages it carries are under writeback until the reply;
//   - a READ that fills a page for a fault: the page is locked until the reply;
//   - a SETATTR(size) or an OPEN(O_TRUNC) of a mapped file: the kernel blocks that file's
//     writeback until the reply, so a notification that must write a dirty page back first
//     waits for it.
//
// A notification sent from such a handler, or one that handler waits for, waits for the
// handler itself: both hang for good (docs/kernel.md has the stacks). So:
//
//  1. A change only queues its notifications (engine events, via Root.changed): every file the
//     kernel may cache (data, each view) has its own queue, sent in order by its notifier
//     goroutine, and a notification for one file waits only on that file's pages, so only on
//     that file's requests.
//  2. A request waits for a file's queue to be sent only where the kernel holds nothing its
//     notifications could wait on. Which requests those are is decided once, by rawFS from
//     the raw request, and checked at every wait (requests.go): a write(2) (a WRITE without
//     FUSE_WRITE_CACHE: direct I/O, no page held), a FLUSH and an FSYNC (the kernel wrote the
//     pages back before sending them) may wait for every file's, so that what was written or
//     flushed is visible through every mapping when the call returns. A SETATTR or an
//     OPEN(O_TRUNC) — a truncate of data, or the empty layout applied by truncating the
//     layout file — may wait for the views' only, never for data's (the kernel drops data's
//     pages itself after the reply). Every other request — a writeback WRITE, a READ, a
//     RELEASE, an OPEN — may not wait at all; a layout file's RELEASE hands its empty layout
//     to a goroutine (engine.LayoutWriter.Release). A wait the rule refuses does not wait: it
//     is reported as the bug it is. A request that may wait sends the queue itself rather
//     than waiting for the notifier goroutine (the same notifications in the same order,
//     without two thread switches per write); one sender at a time per file.
//
// Any change that would make a request wait on its own file's notifier, or make a notifier
// send something for another file, reintroduces the deadlock. docs/kernel.md has the stacks.
//
// Read-only opens of data and of every view are served from the page cache (kept across
// opens); every change sends its invalidations, for the exact ranges of every file that shows
// the changed store pages, before the write that made it is acknowledged: the store changes,
// the daemon's locks are released, the kernel drops the stale pages (waiting for any page a
// READ is filling), and only then does the writer's call return. A read that begins after
// that sees the new bytes (docs/files.md says what a reader is guaranteed).

// cachedFile is a file whose pages the kernel may cache: its inode, whether a READ may have
// put a page in the cache since its cache was last dropped whole, and its notifier.
type cachedFile struct {
	root  *Root
	inode contentNotifier
	view  *engine.View // nil for data

	// held: the kernel may hold pages of the file. Set by every READ before it looks at the
	// store and cleared only by a whole invalidation, just before it is sent (a page filled
	// meanwhile is locked in the cache, and the invalidation waits for it). While it is false
	// the kernel holds nothing of the file, and a change skips the notification: the usual
	// case for a file nobody reads through the cache or maps.
	held atomic.Bool

	n notifier

	// index is the inverse of the view's layout, made by the sender when it first needs it
	// for these runs; indexed are the runs it was made from. Protected by n.sendMu.
	index   *run.Index
	indexed []run.Run
	// since is the view's generation when the cache was last dropped whole: the kernel
	// holds pages of that layout and of later ones only. Until it is the generation in
	// force, pages of an older layout may still be cached (a layout was swapped in, and the
	// whole drop that follows it is not sent yet), and the pages showing a store page
	// cannot be found from the layout in force: a change then drops the whole file.
	// Protected by n.sendMu.
	since int64
}

// contentNotifier drops cached pages of one file: the file's *fusefs.Inode
// (Inode.NotifyContent: FUSE_NOTIFY_INVAL_INODE, which returns once the kernel dropped them).
type contentNotifier interface {
	NotifyContent(off, length int64) syscall.Errno
}

// noteREAD marks that a READ of the file is being served: from now on the kernel may hold
// pages of it.
func (c *cachedFile) noteREAD() {
	if !c.held.Load() {
		c.held.Store(true)
	}
}

// maxRanges is how many ranges a notifier sends one by one; more are one whole invalidation.
const maxRanges = 256

// notifier sends one file's notifications from its own goroutine, in the order they were
// queued. The work is queued in store bytes and turned into the file's own ranges when sent,
// with the view's layout at that moment: a layout change queues a whole invalidation after
// the swap, so any page cached under an older layout is dropped whatever the ranges say.
type notifier struct {
	// sendMu is held by whoever sends the file's queue (drain): the notifier goroutine, or a
	// handler that waits. Taken before mu.
	sendMu sync.Mutex

	mu sync.Mutex
	// whole: drop the whole cache; store: store byte ranges whose pages to drop. Protected
	// by mu.
	whole bool
	store []engine.Extent
	// queued counts the work queued, done the work sent. Protected by mu (done is written
	// only with sendMu held too); idle mirrors queued == done for the fast path of wait.
	queued, done uint64
	idle         atomic.Bool
	wake         chan struct{} // buffered 1
	quit         chan struct{}
}

func (c *cachedFile) start() {
	c.n.wake = make(chan struct{}, 1)
	c.n.quit = make(chan struct{})
	c.n.idle.Store(true)
	go c.run()
}

func (c *cachedFile) stop() { close(c.n.quit) }

// queueWhole asks for the whole cache to be dropped.
func (c *cachedFile) queueWhole() {
	c.queue(func(n *notifier) { n.whole, n.store = true, nil })
}

// queueStore asks for the pages showing store bytes ext to be dropped.
func (c *cachedFile) queueStore(ext []engine.Extent) {
	if !c.held.Load() {
		// Nothing of the file is cached; a READ that starts from now on sees the change,
		// since it set read before looking at the store.
		return
	}
	c.queue(func(n *notifier) {
		if n.whole {
			return
		}
		n.store = append(n.store, ext...)
		if len(n.store) > maxRanges {
			n.whole, n.store = true, nil
		}
	})
}

func (c *cachedFile) queue(add func(*notifier)) {
	n := &c.n
	n.mu.Lock()
	add(n)
	n.queued++
	n.idle.Store(false)
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// sendAttempts bounds how often a wait, or the notifier after a change, tries to send a queue
// whose notification the kernel refused.
const sendAttempts = 3

// sendQueued returns once everything queued before the call has been sent (or the mount is going
// away), sending it itself if need be. right is the caller's (requests.go): a wait it does
// not allow is refused, not waited.
func (c *cachedFile) sendQueued(right waitRight) {
	if !right.allows(c) {
		c.root.refuseWait(right, c)
		return
	}
	n := &c.n
	for range sendAttempts {
		if n.idle.Load() {
			return
		}
		select {
		case <-n.quit:
			return
		default:
		}
		if c.drain() == nil {
			return
		}
	}
}

// drain sends everything queued so far, after whatever another sender is sending now. If the
// kernel refuses a notification, the whole file is queued to be dropped again (and the
// refusal is in status): what was asked is never forgotten.
func (c *cachedFile) drain() error {
	n := &c.n
	n.sendMu.Lock()
	defer n.sendMu.Unlock()
	n.mu.Lock()
	whole, store, upto, sent := n.whole, n.store, n.queued, n.done
	n.whole, n.store = false, nil
	n.mu.Unlock()
	if upto == sent {
		return nil
	}
	if err := c.send(whole, store); err != nil {
		c.held.Store(true)
		n.mu.Lock()
		n.whole, n.store = true, nil
		n.mu.Unlock()
		c.reportFailure(err)
		return err
	}
	n.mu.Lock()
	n.done = upto
	n.idle.Store(n.done == n.queued)
	n.mu.Unlock()
	return nil
}

// reportFailure puts a refused notification in the status of the view it concerns (data's in
// the main view's).
func (c *cachedFile) reportFailure(err error) {
	v, what := c.view, "view"
	if v == nil {
		v, what = c.root.e.Main(), "data"
	}
	v.ReportError("drop the kernel's stale cached pages of "+what, err)
}

func (c *cachedFile) run() {
	n := &c.n
	for {
		select {
		case <-n.quit:
			return
		case <-n.wake:
		}
		for i := range sendAttempts {
			if c.drain() == nil {
				break
			}
			select {
			case <-n.quit:
				return
			case <-time.After(time.Duration(i+1) * 10 * time.Millisecond):
			}
		}
	}
}

// send drops the pages asked for. Called with sendMu held and no other lock.
func (c *cachedFile) send(whole bool, store []engine.Extent) error {
	if !whole && len(store) > 0 {
		ranges, ok := c.fileRanges(store)
		if ok {
			for _, r := range ranges {
				if err := c.notify(r.Off, r.Len); err != nil {
					return err
				}
			}
			return nil
		}
		whole = true
	}
	if !whole {
		return nil
	}
	var gen int64
	if c.view != nil {
		gen = c.view.Generation() // before the drop: pages read during it may be of this layout
	}
	if c.held.Swap(false) {
		if err := c.notify(0, 0); err != nil {
			return err
		}
	}
	c.since = gen
	return nil
}

// fileRanges turns store byte ranges into the file's own byte ranges (page-aligned for a
// view), or says there are too many to send one by one.
func (c *cachedFile) fileRanges(store []engine.Extent) ([]engine.Extent, bool) {
	if c.view == nil {
		return store, len(store) <= maxRanges
	}
	snap := c.view.Snapshot()
	if snap.Generation != c.since {
		return nil, false // pages of an older layout may be cached: drop them all
	}
	if !snap.Pinned {
		return store, len(store) <= maxRanges // the identity shows store page p at view page p
	}
	runs := snap.Runs
	ps := engine.PageSize()
	if !sameRuns(runs, c.indexed) {
		c.index, c.indexed = run.NewIndex(runs), runs
	}
	x := c.index
	var out []engine.Extent
	for _, e := range store {
		x.Views(e.Off/ps, (e.Off+e.Len+ps-1)/ps, func(view, count int64) {
			out = append(out, engine.Extent{Off: view * ps, Len: count * ps})
		})
		if len(out) > maxRanges {
			return nil, false
		}
	}
	return out, true
}

func (c *cachedFile) notify(off, length int64) error {
	// ENOENT means the kernel holds nothing of the file: nothing to drop.
	if errno := c.inode.NotifyContent(off, length); errno != 0 && errno != syscall.ENOENT {
		return fmt.Errorf("FUSE_NOTIFY_INVAL_INODE at %d, %d bytes: %w", off, length, errno)
	}
	return nil
}

// sameRuns tells whether a and b are the same slice (a view's runs are never modified: a new
// layout is a new slice).
func sameRuns(a, b []run.Run) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}
