package fs

import (
	"context"
	"fmt"
	"log"
	"sync"
	"sync/atomic"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// The wait rule, in code (why it exists: cache.go). Whether a request may wait for the
// kernel's caches to be made exact depends on its kind, which only the raw request shows:
// rawFS, which sees every request's opcode and flags, grants each request in flight the
// right it has (grant), and every wait checks the right of the context it runs in
// (rightOf). A node handler cannot grant itself anything; a request rawFS did not grant a
// right to — READ, OPEN without O_TRUNC, RELEASE, a writeback WRITE, GETATTR… — has none. A
// wait without the right does not wait: it is refused, counted and reported (Root.refuseWait),
// so that the mistake fails a test at once (TestWaitRule) instead of hanging a client.

// waitRight is what a request may wait for.
type waitRight uint8

const (
	// waitNever: nothing. The kernel may hold pages of any file while it waits for the
	// reply (a READ filling a page for a fault, a writeback WRITE, a RELEASE sent in the
	// background beside writeback WRITEs).
	waitNever waitRight = iota
	// waitViews: every view's queue, never data's. A SETATTR or an OPEN(O_TRUNC) truncates
	// data, or applies a layout by truncating the layout file; the kernel holds the file's
	// own writeback until the reply, and data's notifications could wait for data's pages.
	waitViews
	// waitAll: every file's queue. A write(2) (a WRITE without FUSE_WRITE_CACHE: direct I/O,
	// no page held), a FLUSH, an FSYNC (the kernel wrote the pages back before sending them).
	// Not a FUSE request at all (the web, the engine's own goroutines, the start) has it too.
	waitAll
)

var rightNames = [...]string{waitNever: "never wait", waitViews: "wait for the views", waitAll: "wait for every file"}

func (w waitRight) String() string { return rightNames[w] }

// allows tells whether a request with right w may wait for c's queue.
func (w waitRight) allows(c *cachedFile) bool {
	switch w {
	case waitAll:
		return true
	case waitViews:
		return c.view != nil
	}
	return false
}

// request is what rawFS knows of a request in flight that a node handler needs.
type request struct {
	op    string    // the opcode, for messages
	right waitRight // what it may wait for
	// owner is the request's FUSE lock owner (a FLUSH's, a WRITE's with
	// FUSE_WRITE_LOCKOWNER): which open file table closes or writes.
	owner uint64
}

// requests holds the requests in flight that were granted something, keyed by their cancel
// channel: go-fuse gives each request in flight its own, and passes it to the node handler in
// its context (fuse.Context.Cancel).
type requests struct{ m sync.Map }

// grant records r for the request of cancel until the returned function is called.
func (rs *requests) grant(cancel <-chan struct{}, r request) (end func()) {
	rs.m.Store(cancel, &r)
	return func() { rs.m.Delete(cancel) }
}

// of returns what was granted to the request ctx belongs to: nil for a FUSE request that
// was granted nothing, and for anything that is not a FUSE request.
func (rs *requests) of(ctx context.Context) (r *request, fuseRequest bool) {
	fc, ok := ctx.(*fuse.Context)
	if !ok {
		return nil, false
	}
	if v, ok := rs.m.Load(fc.Cancel); ok {
		return v.(*request), true
	}
	return nil, true
}

// rightOf returns the right of the caller whose context is ctx.
func (rs *requests) rightOf(ctx context.Context) waitRight {
	r, fuseRequest := rs.of(ctx)
	switch {
	case !fuseRequest:
		return waitAll
	case r == nil:
		return waitNever
	}
	return r.right
}

// ownerOf returns the lock owner of the FUSE request ctx belongs to (0 if it has none).
func (rs *requests) ownerOf(ctx context.Context) uint64 {
	if r, _ := rs.of(ctx); r != nil {
		return r.owner
	}
	return 0
}

// callerPid is the process a FUSE request came from (0 if unknown or not a FUSE request).
func callerPid(ctx context.Context) uint32 {
	if fc, ok := ctx.(*fuse.Context); ok {
		return fc.Caller.Pid
	}
	return 0
}

// waitRefusals counts and describes the waits the rule refused: each is a bug.
type waitRefusals struct {
	n    atomic.Int64
	mu   sync.Mutex
	last string // protected by mu
}

// refuseWait records that a caller with right w tried to wait for c's queue.
func (r *Root) refuseWait(w waitRight, c *cachedFile) {
	what := "data"
	if c.view != nil {
		what = "view " + viewLabel(c.view.Name())
	}
	msg := fmt.Sprintf("nlfs: bug: a request that may %s tried to wait for the notifications of %s (refused, not waited)", w, what)
	r.refusals.n.Add(1)
	r.refusals.mu.Lock()
	r.refusals.last = msg
	r.refusals.mu.Unlock()
	log.Print(msg)
}

// WaitsRefused returns how many waits the wait rule refused, and the last one's description.
// Each is a bug in nlfs: the tests fail on any.
func (r *Root) WaitsRefused() (int64, string) {
	r.refusals.mu.Lock()
	defer r.refusals.mu.Unlock()
	return r.refusals.n.Load(), r.refusals.last
}

// viewLabel names a view in a message.
func viewLabel(name string) string {
	if name == "" {
		return "(main)"
	}
	return name
}
