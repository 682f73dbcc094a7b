package web

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nlfs/nlfs/engine"
)

// TestEventsFollowChanges: the stream's first message tells how things are, and each change
// (a layout applied, a view made or removed, data truncated) comes as a message that says
// which view changed and carries the view's new status.
func TestEventsFollowChanges(t *testing.T) {
	e := newEngine(t, engine.Options{Source: bytes.NewReader(letters(4))})
	s := newServer(t, e, Options{})
	c := openEvents(t, s, "")
	first := c.next(5 * time.Second).msg
	if st := first.status(t); st == nil || st["generation"] != float64(0) || st["web"] != s.Address() {
		t.Fatalf("first message's status %v: want generation 0 and web %s", st, s.Address())
	}

	if err := e.Main().ApplyText(context.Background(), []byte("2 1 0")); err != nil {
		t.Fatal(err)
	}
	m := c.until(5*time.Second, "the layout applied", func(m message) bool { return slices.Contains(m.Changed, "") })
	if st := m.status(t); st["generation"] != float64(1) || st["view_pages"] != float64(3) {
		t.Errorf("status after the layout: %v", st)
	}

	if _, err := e.CreateView("b"); err != nil {
		t.Fatal(err)
	}
	c.until(5*time.Second, "view b made", func(m message) bool { return slices.Equal(m.Names, []string{"b"}) })

	// A stream of view b follows b's layout, and says when b is gone.
	cb := openEvents(t, s, "?view=b")
	if st := cb.next(5 * time.Second).msg.status(t); st["view"] != "b" {
		t.Fatalf("view b's stream's status: %v", st)
	}
	v, _ := e.View("b")
	if err := v.ApplyText(context.Background(), []byte("3 3")); err != nil {
		t.Fatal(err)
	}
	m = cb.until(5*time.Second, "b's layout", func(m message) bool { return slices.Contains(m.Changed, "b") })
	if st := m.status(t); st["view"] != "b" || st["view_pages"] != float64(2) {
		t.Errorf("b's status after its layout: %v", st)
	}
	if err := e.RemoveView("b"); err != nil {
		t.Fatal(err)
	}
	cb.until(5*time.Second, "b gone", func(m message) bool { return m.Gone && len(m.Names) == 0 })
	c.until(5*time.Second, "b gone from the names", func(m message) bool { return m.Names != nil && len(m.Names) == 0 })

	if err := e.Truncate(int64(6 * testPageSize)); err != nil {
		t.Fatal(err)
	}
	m = c.until(5*time.Second, "the truncate", func(m message) bool { return m.Truncated })
	if st := m.status(t); st["data_pages"] != float64(6) {
		t.Errorf("status after the truncate: %v", st)
	}
}

// TestEventsActivity: reads and writes through any file come as activity, with the view
// pages and the store pages behind them: for a read of a view, looked up in its runs.
func TestEventsActivity(t *testing.T) {
	e := newEngine(t, engine.Options{Source: bytes.NewReader(letters(4))})
	if err := e.Main().ApplyText(context.Background(), []byte("2 1 0 1")); err != nil {
		t.Fatal(err)
	}
	s := newServer(t, e, Options{})
	c := openEvents(t, s, "")
	c.next(5 * time.Second)

	read := func(v *engine.View, off, n int64) {
		t.Helper()
		l, err := v.ViewSlices(off, int(n))
		if err != nil {
			t.Fatal(err)
		}
		l.Release()
	}
	ps := int64(testPageSize)
	read(e.Main(), 0, ps) // view page 0: store page 2
	m := c.until(5*time.Second, "the read", func(m message) bool { return len(m.Activity) > 0 })
	want := fileReport{File: "view", View: "", Read: &opReport{Bytes: ps, Pages: [][2]int64{{0, 1}}, Store: [][2]int64{{2, 3}}}}
	if got := m.Activity; len(got) != 1 || !sameReport(got[0], want) {
		t.Errorf("activity %s, want %s", reportsText(got), reportsText([]fileReport{want}))
	}
	if m.Status != nil {
		t.Errorf("a read alone carried the status (costly, and nothing changed)")
	}

	// A write through view page 3 lands in store page 1 (which view page 1 shows too).
	if _, err := e.Main().WriteView(bytes.Repeat([]byte("x"), 10), 3*ps+5); err != nil {
		t.Fatal(err)
	}
	m = c.until(5*time.Second, "the write", func(m message) bool { return len(m.Activity) > 0 })
	want = fileReport{File: "view", Write: &opReport{Bytes: 10, Pages: [][2]int64{{3, 4}}, Store: [][2]int64{{1, 2}}}}
	if got := m.Activity; len(got) != 1 || !sameReport(got[0], want) {
		t.Errorf("activity %s, want %s", reportsText(got), reportsText([]fileReport{want}))
	}
	if m.Status == nil {
		t.Errorf("a write came without the status")
	}

	// Data, and a whole view read at once.
	if _, err := e.WriteData([]byte("y"), 0); err != nil {
		t.Fatal(err)
	}
	read(e.Main(), 0, 4*ps)
	wantAll := map[string]fileReport{
		"data": {File: "data", Write: &opReport{Bytes: 1, Pages: [][2]int64{{0, 1}}, Store: [][2]int64{{0, 1}}}},
		"view": {File: "view", Read: &opReport{Bytes: 4 * ps, Pages: [][2]int64{{0, 4}}, Store: [][2]int64{{0, 3}}}},
	}
	// Both most likely come in one message, but a message may fall between them.
	seen := map[string]bool{}
	c.until(5*time.Second, "data and the view", func(m message) bool {
		for _, r := range m.Activity {
			if w, ok := wantAll[r.File]; !ok || !sameReport(r, w) {
				t.Errorf("activity %s, want %s", reportsText([]fileReport{r}), reportsText([]fileReport{w}))
			}
			seen[r.File] = true
		}
		return len(seen) == 2
	})

	// A read is told as the file had it: clipped at its end, to the size of the moment (a
	// layout that grew the view just before counts).
	if err := e.Main().ApplyText(context.Background(), []byte("0-3 0-3")); err != nil {
		t.Fatal(err)
	}
	read(e.Main(), 0, 64*ps) // asked for 64 pages, as read-ahead does; the view has 8
	m = c.until(5*time.Second, "the read past the end", func(m message) bool { return len(m.Activity) > 0 })
	want = fileReport{File: "view", Read: &opReport{Bytes: 8 * ps, Pages: [][2]int64{{0, 8}}, Store: [][2]int64{{0, 4}}}}
	if got := m.Activity; len(got) != 1 || !sameReport(got[0], want) {
		t.Errorf("activity %s, want %s", reportsText(got), reportsText([]fileReport{want}))
	}
	l, err := e.DataSlices(2*ps, int(10*ps))
	if err != nil {
		t.Fatal(err)
	}
	l.Release()
	m = c.until(5*time.Second, "the data read past the end", func(m message) bool { return len(m.Activity) > 0 })
	want = fileReport{File: "data", Read: &opReport{Bytes: 2 * ps, Pages: [][2]int64{{2, 4}}, Store: [][2]int64{{2, 4}}}}
	if got := m.Activity; len(got) != 1 || !sameReport(got[0], want) {
		t.Errorf("activity %s, want %s", reportsText(got), reportsText([]fileReport{want}))
	}
}

func sameReport(a, b fileReport) bool {
	op := func(x, y *opReport) bool {
		if x == nil || y == nil {
			return x == y
		}
		return x.Bytes == y.Bytes && slices.Equal(x.Pages, y.Pages) && slices.Equal(x.Store, y.Store) && x.Partial == y.Partial
	}
	return a.File == b.File && a.View == b.View && op(a.Read, b.Read) && op(a.Write, b.Write)
}

func reportsText(rs []fileReport) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "{%s %q", r.File, r.View)
		if r.Read != nil {
			fmt.Fprintf(&b, " read %+v", *r.Read)
		}
		if r.Write != nil {
			fmt.Fprintf(&b, " write %+v", *r.Write)
		}
		b.WriteString("} ")
	}
	return b.String()
}

// TestEventsCoalesced: a flood of changes and reads (a big cat, a layout flip after another)
// comes as at most one message per interval (ten a second), each bounded, and nothing is lost:
// the pages read are all in the messages' spans.
func TestEventsCoalesced(t *testing.T) {
	e := newEngine(t, engine.Options{Pages: 4096})
	s := newServer(t, e, Options{})
	c := openEvents(t, s, "")
	c.next(5 * time.Second)

	const reads = 20000 // 20000 reads of 128 KiB: 2.4 GiB of view in an instant
	start := time.Now()
	for i := 0; i < reads; i++ {
		off := int64(i%128) * 128 << 10
		l, err := e.Main().ViewSlices(off, 128<<10)
		if err != nil {
			t.Fatal(err)
		}
		l.Release()
		if i%2000 == 0 {
			if err := e.Main().ApplyText(context.Background(), fmt.Appendf(nil, "0-4095 # %d", i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	took := time.Since(start)
	var got []sseEvent
	var bytesRead int64
	covered := make([]bool, 4096)
	deadline := time.After(took + 3*time.Second)
collect:
	for {
		select {
		case ev := <-c.events:
			got = append(got, ev)
			for _, r := range ev.msg.Activity {
				if r.Read != nil {
					bytesRead += r.Read.Bytes
					if len(r.Read.Pages) > maxSpans || len(r.Read.Store) > maxSpans {
						t.Errorf("a message with %d spans, want at most %d", len(r.Read.Pages), maxSpans)
					}
					for _, sp := range r.Read.Pages {
						for p := sp[0]; p < sp[1] && p < 4096; p++ {
							covered[p] = true
						}
					}
				}
			}
			if bytesRead == reads*128<<10 {
				break collect
			}
		case <-deadline:
			t.Fatalf("after %d messages, %d bytes read were told of, want %d", len(got), bytesRead, reads*128<<10)
		}
	}
	if max := int(took/s.lim.interval) + 2; len(got) > max {
		t.Errorf("%d messages for %v of changes, want at most %d (one per %v)", len(got), took, max, s.lim.interval)
	}
	for i := 1; i < len(got); i++ {
		if gap := got[i].at.Sub(got[i-1].at); gap < s.lim.interval*8/10 {
			t.Errorf("messages %d and %d came %v apart, want at least %v", i-1, i, gap, s.lim.interval)
		}
	}
	for p := 0; p < 128*32; p++ {
		if !covered[p] {
			t.Fatalf("view page %d was read but no message says so", p)
		}
	}
}

// TestStuckStream: a browser that stops reading its stream slows no reader or writer of the
// mount (the engine's callback never waits for the network), and what the daemon keeps for it
// stays bounded however much happens; once a write to it misses its deadline, it is dropped.
func TestStuckStream(t *testing.T) {
	e := newEngine(t, engine.Options{Pages: 256})
	lim := testLimits()
	lim.interval = time.Millisecond // as many messages as can be: fill the socket soon
	lim.streamWrite = time.Hour     // a callback waiting on the network would wait for this
	s := newServer(t, e, Options{limits: lim})
	for i := 0; i < maxFiles+4; i++ {
		if _, err := e.CreateView(fmt.Sprintf("v%02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	stuck := stuckStream(t, s)
	defer stuck.Close()
	waitFor(t, 5*time.Second, "the stuck stream to open", func() bool { return len(s.openStreams()) == 1 })
	start0 := time.Now()

	// Reads of every view in scattered pieces fill the socket until the stream's goroutine
	// waits in a write: its record then stays untaken. In a goroutine, as below.
	views := append([]string{engine.MainView}, e.ViewNames()...)
	st := s.openStreams()[0]
	within(t, 90*time.Second, "filling the stuck stream's socket (a read waiting for the browser?)", func() error {
		untakenSince := time.Now()
		for i := 0; ; i++ {
			v, _ := e.View(views[i%len(views)])
			l, err := v.ViewSlices(int64((i*37)%256)*int64(testPageSize), 1)
			if err != nil {
				return err
			}
			l.Release()
			st.mu.Lock()
			taken := !st.p.any || len(st.p.files) < 2
			st.mu.Unlock()
			if taken {
				untakenSince = time.Now()
			}
			if time.Since(untakenSince) > 500*time.Millisecond {
				return nil
			}
			if time.Since(start0) > 60*time.Second {
				return fmt.Errorf("the stream never got stuck: its socket never filled")
			}
			if i%64 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	})

	// Now far more happens than the record could hold unbounded, in a goroutine: a callback
	// that waited for the browser would hold it for good, and the test must say so.
	start := time.Now()
	var slowest time.Duration
	within(t, 60*time.Second, "50000 reads with a stuck stream (the mount waits for the browser?)", func() error {
		for i := 0; i < 50000; i++ {
			v, _ := e.View(views[i%len(views)])
			t0 := time.Now()
			l, err := v.ViewSlices(int64((i*37)%256)*int64(testPageSize), testPageSize)
			if err != nil {
				return err
			}
			l.Release()
			if i%5000 == 0 {
				if err := e.Main().ApplyText(context.Background(), fmt.Appendf(nil, "255-0 # %d", i)); err != nil {
					return err
				}
			}
			slowest = max(slowest, time.Since(t0))
		}
		return nil
	})
	if d := time.Since(start); d > 30*time.Second || slowest > 5*time.Second {
		t.Errorf("with a stuck stream, 50000 reads took %v, the slowest %v: the mount waited for the browser", d, slowest)
	}
	if sts := s.openStreams(); len(sts) != 1 || sts[0] != st {
		t.Fatalf("%d streams open, want the stuck one", len(sts))
	}
	st.mu.Lock()
	files, unnamed, changed := len(st.p.files), st.p.unnamed, len(st.p.changed)
	for k, fa := range st.p.files {
		if len(fa.readPages) > maxSpans || len(fa.writePages) > maxSpans || len(fa.writeStore) > maxSpans {
			t.Errorf("file %v holds %d/%d/%d spans, want at most %d", k, len(fa.readPages), len(fa.writePages), len(fa.writeStore), maxSpans)
		}
	}
	st.mu.Unlock()
	if files > maxFiles || changed > maxChanged {
		t.Errorf("the stuck stream's record holds %d files and %d changed views, want at most %d and %d", files, changed, maxFiles, maxChanged)
	}
	if unnamed < 10000 {
		t.Errorf("only %d events past the files told apart: the stream was not stuck through them", unnamed)
	}
	t.Logf("stuck stream's record: %d files, %d events unnamed", files, unnamed)
}

// TestStuckStreamDropped: a stream whose write misses its deadline ends, and with it its
// subscription.
func TestStuckStreamDropped(t *testing.T) {
	e := newEngine(t, engine.Options{Pages: 256})
	lim := testLimits()
	lim.interval = time.Millisecond
	lim.streamWrite = 300 * time.Millisecond
	s := newServer(t, e, Options{limits: lim})
	for i := 0; i < maxFiles; i++ {
		if _, err := e.CreateView(fmt.Sprintf("v%02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	stuck := stuckStream(t, s)
	defer stuck.Close()
	waitFor(t, 5*time.Second, "the stuck stream to open", func() bool { return len(s.openStreams()) == 1 })
	views := append([]string{engine.MainView}, e.ViewNames()...)
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; len(s.openStreams()) > 0; i++ {
		if time.Now().After(deadline) {
			t.Fatal("a stream nobody reads was not dropped within a minute of missed deadlines")
		}
		v, _ := e.View(views[i%len(views)])
		// Scattered pages, so that each message carries many spans and the socket fills.
		l, err := v.ViewSlices(int64((i*37)%256)*int64(testPageSize), 1)
		if err != nil {
			t.Fatal(err)
		}
		l.Release()
		if i%64 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
}

// stuckStream opens an event stream that never reads, with a tiny receive buffer.
func stuckStream(t *testing.T, s *Server) *net.TCPConn {
	t.Helper()
	d := net.Dialer{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 1024) })
		if err != nil {
			return err
		}
		return serr
	}}
	c, err := d.Dial("tcp", s.listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "GET /events?token=%s HTTP/1.1\r\nHost: %s\r\n\r\n", s.token, s.listener.Addr())
	return c.(*net.TCPConn)
}

// within runs fn in a goroutine and fails the test if it errs or has not returned after d: a
// call of the mount that blocks for good becomes a failure with a name, not a hung test.
func within(t *testing.T, d time.Duration, what string, fn func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(d):
		t.Fatalf("%s: not done after %v", what, d)
	}
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStreamOutlivesTimeouts: the server's read and write timeouts, which bound every other
// request, do not end an event stream; and a stream dropped (as by a network failure) can be
// opened again.
func TestStreamOutlivesTimeouts(t *testing.T) {
	e := newEngine(t, engine.Options{Pages: 4})
	lim := testLimits()
	lim.read = 300 * time.Millisecond
	lim.write = 300 * time.Millisecond
	lim.keepAlive = 100 * time.Millisecond
	s := newServer(t, e, Options{limits: lim})
	c := openEvents(t, s, "")
	c.next(5 * time.Second)
	time.Sleep(4 * (lim.read + lim.write))
	if err := e.Main().ApplyText(context.Background(), []byte("1 0")); err != nil {
		t.Fatal(err)
	}
	c.until(5*time.Second, "a change after the timeouts", func(m message) bool { return slices.Contains(m.Changed, "") })

	s.dropStreams()
	select {
	case _, ok := <-c.events:
		for ok {
			_, ok = <-c.events
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a dropped stream did not end")
	}
	c2 := openEvents(t, s, "")
	c2.next(5 * time.Second)
}

// TestTooManyStreams: past the bound on streams, a new one is refused (503), not queued.
func TestTooManyStreams(t *testing.T) {
	e := newEngine(t, engine.Options{Pages: 4})
	lim := testLimits()
	lim.streams = 2
	s := newServer(t, e, Options{limits: lim})
	openEvents(t, s, "").next(5 * time.Second)
	openEvents(t, s, "").next(5 * time.Second)
	resp, body := call(t, s, "GET", "/events", nil, nil)
	if resp.StatusCode != 503 || !strings.Contains(body, "too many event streams") {
		t.Errorf("a third stream: %s %q, want 503", resp.Status, body)
	}
}
