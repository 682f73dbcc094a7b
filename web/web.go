// Package web is the nlfs HTTP binding: the live page of a mount (`--http ADDR`), its event
// stream and its layout API, over one engine.Engine, beside the FUSE binding (package fs).
// Everything an endpoint does is one engine call; this package adds only what HTTP needs: the
// token, the Origin and Host checks, size limits and timeouts, and the coalescing of engine
// events into at most ten messages a second per browser.
//
// What the caller does:
//
//	s, err := web.New(e, web.Options{Addr: "127.0.0.1:8080", MaxViewPages: n, Note: warn})
//	// print s.URL() (the address with its token) for the user; the mount's `web` file (0400)
//	// holds it too. New has already told the engine s.Address() for status.
//	...
//	s.Close() // before the engine is closed
//
// Endpoints (every one needs the token, as ?token= or "Authorization: Bearer", and takes
// ?view=NAME for a named view, 404 for an unknown one):
//
//	GET /           the page, with the view's state as it is now (page.go, static/)
//	GET /events     text/event-stream: one "change" event per change, at most ten a second (events.go)
//	GET /layout     the layout in force, canonical form
//	PUT /layout     a whole new layout: 204 when applied; 400 with the one-line error otherwise,
//	                its line and column also in the headers Nlfs-Error-Line and Nlfs-Error-Column
//	GET /map.svg    the picture, as the map.svg file
//	GET /status     status.json
//	GET /vmas       the vmas file (?lines=N: at most N lines)
//	GET /page?n=N   view page N: the store page it shows and its aliases (hovering a large view)
//	GET /steps      the remap_file_pages calls that build the layout in force, drawn one by one
//	POST /steps     the same for the layout text in the body, not applied (steps.go)
//
// Limits: headers 16 KiB (431 past it), a layout body 1 MiB + 17 bytes per view page the
// engine allows (18 MiB by default; 413 past it), a POST /steps body 1 MiB, 5 s to send the
// headers, 60 s for a whole request or answer, 16 event streams and 2 layout bodies (PUT
// /layout, POST /steps) at once. An event stream is exempt
// from the 60 s; each of its writes has 10 s, and a browser that misses that is dropped.
//
// The files: web.go (Server, Options, lifecycle), addr.go (listening, the hosts served, the
// addresses, the token), guard.go (token, Host and Origin checks; the headers of every answer),
// handlers.go (the endpoints), layoutput.go (PUT /layout), steps.go (the step player's
// drawings), events.go (the event stream), activity.go (the bounded record of reads and writes
// between two messages), page.go (the page and its state, static/).
package web

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/nlfs/nlfs/engine"
	"github.com/nlfs/nlfs/layout"
)

// Options configure a Server.
type Options struct {
	// Addr is host:port to listen on (port 0 picks one); "" means 127.0.0.1:0. An address
	// that is not loopback is allowed, with a one-line warning through Note.
	Addr string
	// Token is the secret every request must carry; "" makes a random one of 128 bits. A
	// given token must be at least 32 characters of letters, digits, '-', '_', '.' or '~'.
	Token string
	// MaxViewPages must be the engine's (engine.Options.MaxViewPages, --max-view-pages; 0
	// means layout.DefaultMaxViewPages): it sizes the largest layout body PUT /layout takes,
	// so that the largest legal layout written page by page still fits (layoutput.go).
	MaxViewPages int64
	// Note, if set, is told one-line remarks for the user (a non-loopback address).
	Note func(string)

	// limits replaces the timeouts and limits in tests; nil means defaultLimits.
	limits *limits
}

// limits are the timeouts and bounds against slow or greedy clients.
type limits struct {
	readHeader time.Duration // to read a request's headers
	read       time.Duration // to read a whole request, body included (not the event stream)
	write      time.Duration // to write a response (not the event stream: each of its writes has streamWrite)
	idle       time.Duration // a kept-alive connection waiting for its next request
	headerSize int           // http.Server.MaxHeaderBytes

	streamWrite time.Duration // to write one message of the event stream
	keepAlive   time.Duration // a comment on an idle stream, so that a dead peer shows
	interval    time.Duration // between two messages of one stream (at most ten a second)
	streams     int           // event streams at once
	puts        int           // layout bodies arriving at once
}

var defaultLimits = limits{
	readHeader:  5 * time.Second,
	read:        60 * time.Second,
	write:       60 * time.Second,
	idle:        120 * time.Second,
	headerSize:  16 << 10,
	streamWrite: 10 * time.Second,
	keepAlive:   15 * time.Second,
	interval:    100 * time.Millisecond,
	streams:     16,
	puts:        2,
}

// Server serves the live page of one engine until Close.
type Server struct {
	e        *engine.Engine
	token    string
	hosts    map[string]bool // the Host values accepted (addr.go); immutable
	url      string          // http://HOST:PORT/, the address without its token; immutable
	lim      limits          // immutable
	maxView  int64           // the largest view the engine allows, in pages; immutable
	maxBody  int64           // the largest PUT /layout body (layoutput.go); immutable
	page     page            // the page and its Content-Security-Policy (page.go); immutable
	srv      *http.Server
	listener net.Listener

	// stop ends every event stream at Close (streams never go idle, so Shutdown would wait).
	ctx  context.Context
	stop context.CancelFunc

	streamSlots chan struct{} // one token per event stream open; bounds them
	putSlots    chan struct{} // one token per layout body arriving; bounds them

	mu sync.Mutex
	// drop ends every stream open now (tests use it to prove the page reconnects). Protected
	// by mu.
	drop chan struct{}
	// streams are the event streams open now. Protected by mu.
	streams map[*stream]bool

	done chan struct{} // closed when Serve has returned
	err  error         // what Serve returned; read after done

	closeOnce sync.Once
	closeErr  error // what Close returned; set once
}

// New listens on opts.Addr and serves the page in the background; it records the address
// for the engine's status (SetWebAddress) and undoes that at Close. It fails, saying why in
// one line, when the address cannot be listened on or a given token is too weak.
func New(e *engine.Engine, opts Options) (*Server, error) {
	lim := defaultLimits
	if opts.limits != nil {
		lim = *opts.limits
	}
	token, err := chooseToken(opts.Token)
	if err != nil {
		return nil, err
	}
	pg, err := buildPage()
	if err != nil {
		return nil, err
	}
	maxView := opts.MaxViewPages
	if maxView <= 0 {
		maxView = layout.DefaultMaxViewPages
	}
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("web: listen on %s: %w", addr, err)
	}
	served, err := servedAt(addr, l.Addr().(*net.TCPAddr))
	if err != nil {
		l.Close()
		return nil, err
	}
	if !served.loopback && opts.Note != nil {
		opts.Note(fmt.Sprintf("web: %s is not a loopback address: anyone who can reach it and has the token can read and change this mount's data", served.url))
	}
	s := &Server{
		e: e, token: token, hosts: served.hosts, url: served.url, lim: lim,
		maxView: maxView, maxBody: maxLayoutBody(maxView), page: pg, listener: l,
		streamSlots: make(chan struct{}, lim.streams),
		putSlots:    make(chan struct{}, lim.puts),
		drop:        make(chan struct{}),
		streams:     map[*stream]bool{},
		done:        make(chan struct{}),
	}
	s.ctx, s.stop = context.WithCancel(context.Background())
	s.srv = &http.Server{
		Handler:           s.guard(s.routes()),
		ReadHeaderTimeout: lim.readHeader,
		ReadTimeout:       lim.read,
		WriteTimeout:      lim.write,
		IdleTimeout:       lim.idle,
		MaxHeaderBytes:    lim.headerSize,
		BaseContext:       func(net.Listener) context.Context { return s.ctx },
		ErrorLog:          discardLog,
	}
	go func() {
		defer close(s.done)
		s.err = s.srv.Serve(l)
	}()
	e.SetWebAddress(s.url)
	return s, nil
}

// URL is the page's full address with its token: what the user opens, and what the `web` file
// holds.
func (s *Server) URL() string { return s.url + "?token=" + s.token }

// Address is the page's address without its token (what status shows).
func (s *Server) Address() string { return s.url }

// Close stops serving: every event stream ends, requests in flight get a moment to finish,
// then every connection is closed. The engine's status says web: off again.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Server) close() error {
	s.e.SetWebAddress("")
	s.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		err = s.srv.Close()
	}
	<-s.done
	if err != nil {
		return fmt.Errorf("web: close: %w", err)
	}
	if s.err != nil && !errors.Is(s.err, http.ErrServerClosed) {
		return fmt.Errorf("web: serve: %w", s.err)
	}
	return nil
}

// dropStreams ends every event stream open now, as a network failure would; the page's
// EventSource then reconnects by itself.
func (s *Server) dropStreams() {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.drop)
	s.drop = make(chan struct{})
}

// register records an open stream and returns the channel that drops it.
func (s *Server) register(st *stream) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.streams[st] = true
	return s.drop
}

func (s *Server) unregister(st *stream) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.streams, st)
}

// openStreams returns the streams open now.
func (s *Server) openStreams() []*stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*stream, 0, len(s.streams))
	for st := range s.streams {
		out = append(out, st)
	}
	return out
}
