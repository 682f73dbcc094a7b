package web

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nlfs/nlfs/engine"
)

var testPageSize = int(engine.PageSize())

// letters returns n pages, page i filled with 'A'+i.
func letters(n int) []byte {
	var b []byte
	for i := 0; i < n; i++ {
		b = append(b, bytes.Repeat([]byte{byte('A' + i%26)}, testPageSize)...)
	}
	return b
}

// newEngine makes an engine (no mount) closed when the test ends.
func newEngine(t testing.TB, opts engine.Options) *engine.Engine {
	t.Helper()
	e, err := engine.New(opts)
	if err != nil {
		t.Fatalf("engine.New: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// testLimits are short enough for tests to see them act.
func testLimits() *limits {
	l := defaultLimits
	return &l
}

// newServer serves e on a loopback port until the test ends.
func newServer(t testing.TB, e *engine.Engine, opts Options) *Server {
	t.Helper()
	s, err := New(e, opts)
	if err != nil {
		t.Fatalf("web.New: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// base is where requests of the tests go: the listener's port on 127.0.0.1, whatever address
// it serves (every server takes that Host).
func base(s *Server) string {
	_, port, _ := net.SplitHostPort(s.listener.Addr().String())
	return "http://127.0.0.1:" + port + "/"
}

// testClient gives up on an answer that does not end (an event stream, where none was meant).
var testClient = &http.Client{Timeout: 30 * time.Second}

// call makes one request with the token in a header unless told otherwise (token ""), and
// returns the response with its body read.
func call(t testing.TB, s *Server, method, path string, body io.Reader, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, base(s)+strings.TrimPrefix(path, "/"), body)
	if err != nil {
		t.Fatalf("request %s %s: %v", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp, string(b)
}

// mustGet is a GET that must answer 200.
func mustGet(t testing.TB, s *Server, path string) string {
	t.Helper()
	resp, body := call(t, s, "GET", path, nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %q", path, resp.Status, body)
	}
	return body
}

// sseClient reads the "change" events of one event stream.
type sseClient struct {
	t      testing.TB
	resp   *http.Response
	events chan sseEvent
}

type sseEvent struct {
	at  time.Time
	msg message
	raw string
}

// statusOf decodes a message's status.
func (m message) status(t testing.TB) map[string]any {
	t.Helper()
	if m.Status == nil {
		return nil
	}
	var st map[string]any
	if err := json.Unmarshal(m.Status, &st); err != nil {
		t.Fatalf("status in message: %v: %s", err, m.Status)
	}
	return st
}

func openEvents(t testing.TB, s *Server, query string) *sseClient {
	t.Helper()
	req, err := http.NewRequest("GET", base(s)+"events"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /events: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("GET /events%s: %s %q", query, resp.Status, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("GET /events: Content-Type %q", ct)
	}
	c := &sseClient{t: t, resp: resp, events: make(chan sseEvent, 10000)}
	go c.read()
	t.Cleanup(func() { resp.Body.Close() })
	return c
}

func (c *sseClient) read() {
	defer close(c.events)
	r := bufio.NewReader(c.resp.Body)
	var name, data string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "":
			if name == "change" {
				ev := sseEvent{at: time.Now(), raw: data}
				if err := json.Unmarshal([]byte(data), &ev.msg); err != nil {
					ev.raw = "BAD JSON: " + err.Error() + ": " + data
				}
				c.events <- ev
			}
			name, data = "", ""
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data += strings.TrimPrefix(line, "data: ")
		}
	}
}

// next returns the next event, failing the test after d.
func (c *sseClient) next(d time.Duration) sseEvent {
	c.t.Helper()
	select {
	case ev, ok := <-c.events:
		if !ok {
			c.t.Fatal("event stream ended")
		}
		if strings.HasPrefix(ev.raw, "BAD JSON") {
			c.t.Fatal(ev.raw)
		}
		return ev
	case <-time.After(d):
		c.t.Fatalf("no event within %v", d)
	}
	panic("unreachable")
}

// until returns the first event for which ok holds, failing after d.
func (c *sseClient) until(d time.Duration, what string, ok func(message) bool) message {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			c.t.Fatalf("no event with %s within %v", what, d)
		}
		select {
		case ev, open := <-c.events:
			if !open {
				c.t.Fatalf("event stream ended waiting for %s", what)
			}
			if ok(ev.msg) {
				return ev.msg
			}
		case <-time.After(left):
			c.t.Fatalf("no event with %s within %v", what, d)
		}
	}
}
