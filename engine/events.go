package engine

import (
	"sync"
	"sync/atomic"

	"github.com/nlfs/nlfs/remapper"
)

// EventKind says what changed (or, for reads, what was served).
type EventKind int

// The kinds of events.
const (
	DataWritten   EventKind = iota + 1 // bytes [Off, Off+Len) of data were written
	ViewWritten                        // bytes [Off, Off+Len) of view View were written (into the store pages it shows)
	Truncated                          // data's size changed; [Off, Off+Len) is the range that appeared or went
	LayoutApplied                      // view View has a new layout
	ViewCreated                        // named view View was made
	ViewRemoved                        // named view View was removed
	DataRead                           // a read of bytes [Off, Off+Len) of data was asked for (as asked: it may run past the end)
	ViewRead                           // a read of bytes [Off, Off+Len) of view View was asked for (likewise)
	LayoutRefused                      // a layout for view View was refused (its status says why)
)

var kindNames = map[EventKind]string{
	DataWritten: "data-written", ViewWritten: "view-written", Truncated: "truncated",
	LayoutApplied: "layout-applied", ViewCreated: "view-created", ViewRemoved: "view-removed",
	DataRead: "data-read", ViewRead: "view-read", LayoutRefused: "layout-refused",
}

func (k EventKind) String() string { return kindNames[k] }

// Event is one change to the engine's store or views, or one read asked for.
type Event struct {
	Kind     EventKind
	View     string // the view concerned (MainView for the main view); "" for data events
	Off, Len int64  // the byte range concerned, in the coordinates of the file named by Kind
	// Store holds the store byte ranges a write changed (for a write through a view, the
	// store pages it showed at the moment of the write), or, for Truncated, the range that
	// appeared or went. Nil for the other kinds.
	Store []remapper.Extent
}

// events is the engine's list of subscribers. Events are sent synchronously, after the change
// and with no lock held, to every subscriber in turn: a subscriber must return at once and
// never block (queue the work, coalesce, drop what it cannot keep up with).
type events struct {
	mu   sync.Mutex
	subs map[int]func(Event) // protected by mu
	next int                 // protected by mu
	// n is len(subs): reads send events only when someone listens.
	n atomic.Int32
}

// Subscribe calls fn for every event from now on, until cancel is called.
func (e *Engine) Subscribe(fn func(Event)) (cancel func()) {
	ev := &e.events
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if ev.subs == nil {
		ev.subs = map[int]func(Event){}
	}
	id := ev.next
	ev.next++
	ev.subs[id] = fn
	ev.n.Store(int32(len(ev.subs)))
	return func() {
		ev.mu.Lock()
		defer ev.mu.Unlock()
		delete(ev.subs, id)
		ev.n.Store(int32(len(ev.subs)))
	}
}

func (ev *events) send(e Event) {
	if ev.n.Load() == 0 {
		return
	}
	ev.mu.Lock()
	fns := make([]func(Event), 0, len(ev.subs))
	for _, fn := range ev.subs {
		fns = append(fns, fn)
	}
	ev.mu.Unlock()
	for _, fn := range fns {
		fn(e)
	}
}
