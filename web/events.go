package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/nlfs/nlfs/engine"
)

// message is one "change" event of the stream: what the page needs to follow the mount
// without asking for more unless the layout or the data changed.
type message struct {
	// Names are the named views now.
	Names []string `json:"names"`
	// Status is the stream's view's status (status.json), when anything but a read happened
	// (and in the first message); the page fetches the layout and picture again when its
	// generation or sizes differ. Absent when only reads happened: reading status costs a
	// walk of the daemon's maps, too much to do ten times a second for nothing.
	Status json.RawMessage `json:"status,omitempty"`
	// Gone says the stream's view was removed.
	Gone bool `json:"gone,omitempty"`
	// Changed names the views that got a new layout ("" is the main view); Many says more did.
	Changed []string `json:"changed,omitempty"`
	Many    bool     `json:"many,omitempty"`
	// Truncated says data's size changed.
	Truncated bool `json:"truncated,omitempty"`
	// Activity is what reached each file since the last message.
	Activity []fileReport `json:"activity,omitempty"`
	// Unnamed counts the reads and writes of files past the few told apart.
	Unnamed int64 `json:"unnamed,omitempty"`
}

// stream is one browser's event stream. The engine's callback only records into pending and
// kicks the stream's goroutine, which alone talks to the network: a browser that stops
// reading holds up its own goroutine until the write deadline drops it, never the mount.
type stream struct {
	e        *engine.Engine
	view     string
	pageSize int64

	mu sync.Mutex
	// p is what happened since the last message. Protected by mu, held only to record an
	// event or to take the record.
	p pending
	// sizes are the files' sizes as of the last message, to clip reads to (activity.go).
	// Protected by mu; replaced whole, never modified.
	sizes map[fileKey]int64

	kick chan struct{} // capacity 1: something is pending
}

// event is the engine's callback: record and kick, at once. After a change of sizes (a layout,
// a truncate, a view made, data grown) it reads the sizes again first, so that reads right
// after it are clipped to the new ones; that costs a look at each view, and such changes are
// rare next to reads.
func (st *stream) event(ev engine.Event) {
	if st.resized(ev) {
		st.setSizes(sizes(st.e))
	}
	st.mu.Lock()
	st.p.add(ev, st.pageSize, st.sizes)
	st.mu.Unlock()
	select {
	case st.kick <- struct{}{}:
	default:
	}
}

// resized says whether ev may have changed the size of data or of a view.
func (st *stream) resized(ev engine.Event) bool {
	switch ev.Kind {
	case engine.LayoutApplied, engine.Truncated, engine.ViewCreated:
		return true
	case engine.DataWritten, engine.ViewWritten:
		st.mu.Lock()
		defer st.mu.Unlock()
		for _, x := range ev.Store {
			if x.Off+x.Len > st.sizes[fileKey{data: true}] {
				return true
			}
		}
	}
	return false
}

// take returns what is pending and starts a new record.
func (st *stream) take() pending {
	st.mu.Lock()
	defer st.mu.Unlock()
	p := st.p
	st.p = pending{}
	return p
}

// setSizes records the files' sizes of now, read with no lock held.
func (st *stream) setSizes(m map[fileKey]int64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.sizes = m
}

// serveEvents is GET /events: a text/event-stream of "change" events for the view named, the
// first at once, then one after each change, at most one per interval. Neither the server's
// read nor its write timeout applies; each write has its own deadline instead, and a stream
// that misses one is ended (the browser's EventSource comes back by itself).
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request, v *engine.View) {
	select {
	case s.streamSlots <- struct{}{}:
		defer func() { <-s.streamSlots }()
	default:
		refuse(w, http.StatusServiceUnavailable, fmt.Sprintf("too many event streams (%d): close a page", s.lim.streams))
		return
	}
	// ReadTimeout does not end a stream: net/http lifts the read deadline once the request is
	// read. WriteTimeout would: each write sets its own deadline instead (write, below).
	rc := http.NewResponseController(w)
	st := &stream{e: s.e, view: v.Name(), pageSize: engine.PageSize(), kick: make(chan struct{}, 1), sizes: sizes(s.e)}
	cancel := s.e.Subscribe(st.event)
	defer cancel()

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	dropped := s.register(st)
	defer s.unregister(st)
	write := func(chunk []byte) bool {
		if err := rc.SetWriteDeadline(time.Now().Add(s.lim.streamWrite)); err != nil {
			return false
		}
		if _, err := w.Write(chunk); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	// The first message says how things are; retry tells EventSource to come back after a
	// second when the stream drops.
	if !write(append([]byte("retry: 1000\n"), s.encode(st.view, pending{changes: true})...)) {
		return
	}
	keepAlive := time.NewTicker(s.lim.keepAlive)
	defer keepAlive.Stop()
	last := time.Now()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-dropped:
			return
		case <-keepAlive.C:
			if !write([]byte(": keep-alive\n\n")) {
				return
			}
			continue
		case <-st.kick:
		}
		// At most one message per interval: what comes meanwhile joins this one.
		if wait := time.Until(last.Add(s.lim.interval)); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-r.Context().Done():
				t.Stop()
				return
			case <-dropped:
				t.Stop()
				return
			case <-t.C:
			}
		}
		p := st.take()
		if !p.any {
			continue
		}
		if !write(s.encode(st.view, p)) {
			return
		}
		last = time.Now()
	}
}

// encode makes one "change" event from what is pending for a stream of the view named.
func (s *Server) encode(view string, p pending) []byte {
	m := message{
		Names: s.e.ViewNames(), Changed: p.changed, Many: p.manyChanged, Truncated: p.truncated,
		Activity: p.reports(s.e), Unnamed: p.unnamed,
	}
	v, ok := s.e.View(view)
	switch {
	case !ok:
		m.Gone = true
	case p.changes:
		m.Status = v.StatusJSON()
	}
	b, err := json.Marshal(m)
	if err != nil {
		// Cannot happen for these types; an empty change still makes the page look again.
		b = []byte(`{"names":[]}`)
	}
	out := make([]byte, 0, len(b)+32)
	out = append(out, "event: change\ndata: "...)
	out = append(out, b...)
	return append(out, "\n\n"...)
}
