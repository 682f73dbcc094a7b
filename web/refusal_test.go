package web

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nlfs/nlfs/engine"
)

// TestRefusals: every request that is not the page's own, with its token, for something that
// exists, is refused with the right code and one line saying why, and changes nothing.
func TestRefusals(t *testing.T) {
	e := newEngine(t, engine.Options{Source: bytes.NewReader(letters(8)), MaxViewPages: 16})
	if _, err := e.CreateView("a"); err != nil {
		t.Fatal(err)
	}
	s := newServer(t, e, Options{MaxViewPages: 16})
	if err := e.Main().ApplyText(context.Background(), []byte("2 1 0")); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(s.listener.Addr().String())
	other := "127.0.0.1:" + strconv.Itoa(otherPort(t, port))
	own := "http://127.0.0.1:" + port
	noAuth := map[string]string{"Authorization": ""}
	tooBig := bytes.Repeat([]byte("# a comment that is legal but long\n"), int(s.maxBody)/35+10)

	cases := []struct {
		name   string
		method string
		path   string
		body   []byte
		hdr    map[string]string
		want   int
		line   string // a substring of the one-line answer, for refusals
	}{
		// The controls: what is allowed is allowed.
		{"token in header", "GET", "/layout", nil, nil, 200, ""},
		{"token in query", "GET", "/layout?token=" + s.token, nil, noAuth, 200, ""},
		{"own origin", "GET", "/status", nil, map[string]string{"Origin": own}, 200, ""},
		{"localhost host", "GET", "/status", nil, map[string]string{"Host": "localhost:" + port}, 200, ""},
		{"navigation typed by the user", "GET", "/", nil, map[string]string{"Sec-Fetch-Site": "none"}, 200, ""},
		{"named view", "GET", "/layout?view=a", nil, nil, 200, ""},
		{"steps", "GET", "/steps", nil, nil, 200, ""},
		{"steps of text", "POST", "/steps", []byte("0-5\nremap 0 2 4"), nil, 200, ""},

		// 401: no token, or the wrong one, wherever it is given.
		{"no token", "GET", "/", nil, noAuth, 401, "token"},
		{"no token, events", "GET", "/events", nil, noAuth, 401, "token"},
		{"no token, put", "PUT", "/layout", []byte("0"), noAuth, 401, "token"},
		{"no token, unknown view", "GET", "/layout?view=nope", nil, noAuth, 401, "token"},
		{"no token, unknown path", "GET", "/etc/passwd", nil, noAuth, 401, "token"},
		{"wrong token in query", "GET", "/layout?token=" + strings.Repeat("0", 32), nil, noAuth, 401, "token"},
		{"wrong bearer", "GET", "/status", nil, map[string]string{"Authorization": "Bearer " + strings.Repeat("f", 32)}, 401, "token"},
		{"token prefix", "GET", "/status?token=" + s.token[:16], nil, noAuth, 401, "token"},
		{"basic auth", "GET", "/status", nil, map[string]string{"Authorization": "Basic " + s.token}, 401, "token"},

		// 403: another site, or another port of this machine, in the user's browser.
		{"foreign origin", "GET", "/layout", nil, map[string]string{"Origin": "http://evil.example"}, 403, "Origin"},
		{"foreign origin put", "PUT", "/layout", []byte("0"), map[string]string{"Origin": "http://evil.example"}, 403, "Origin"},
		{"foreign origin steps", "POST", "/steps", []byte("0"), map[string]string{"Origin": "http://evil.example"}, 403, "Origin"},
		{"rebinding host steps", "GET", "/steps", nil, map[string]string{"Host": "evil.example:" + port}, 403, "Host"},
		{"no token, steps", "GET", "/steps", nil, noAuth, 401, "token"},
		{"other port origin", "PUT", "/layout", []byte("0"), map[string]string{"Origin": "http://" + other}, 403, "Origin"},
		{"https origin", "GET", "/status", nil, map[string]string{"Origin": "https://127.0.0.1:" + port}, 403, "Origin"},
		{"null origin", "GET", "/status", nil, map[string]string{"Origin": "null"}, 403, "Origin"},
		{"cross-site fetch", "GET", "/status", nil, map[string]string{"Sec-Fetch-Site": "cross-site"}, 403, "cross-site"},
		{"same-site fetch", "GET", "/events", nil, map[string]string{"Sec-Fetch-Site": "same-site"}, 403, "same-site"},

		// 403: DNS rebinding, a name that resolves here arriving under its own Host.
		{"rebinding host", "GET", "/layout", nil, map[string]string{"Host": "evil.example:" + port}, 403, "Host"},
		{"rebinding host put", "PUT", "/layout", []byte("0"), map[string]string{"Host": "evil.example:" + port}, 403, "Host"},
		{"host without port", "GET", "/status", nil, map[string]string{"Host": "127.0.0.1"}, 403, "Host"},
		{"host other port", "GET", "/status", nil, map[string]string{"Host": other}, 403, "Host"},

		// 404: a view or a path that does not exist.
		{"unknown view /", "GET", "/?view=nope", nil, nil, 404, `no view "nope"`},
		{"unknown view events", "GET", "/events?view=nope", nil, nil, 404, `no view "nope"`},
		{"unknown view layout", "GET", "/layout?view=nope", nil, nil, 404, `no view "nope"`},
		{"unknown view put", "PUT", "/layout?view=nope", []byte("0"), nil, 404, `no view "nope"`},
		{"unknown view map.svg", "GET", "/map.svg?view=nope", nil, nil, 404, `no view "nope"`},
		{"unknown view status", "GET", "/status?view=nope", nil, nil, 404, `no view "nope"`},
		{"unknown view vmas", "GET", "/vmas?view=nope", nil, nil, 404, `no view "nope"`},
		{"unknown view steps", "GET", "/steps?view=nope", nil, nil, 404, `no view "nope"`},
		{"unknown view steps of text", "POST", "/steps?view=nope", []byte("0"), nil, 404, `no view "nope"`},
		{"unknown view page", "GET", "/page?n=0&view=nope", nil, nil, 404, `no view "nope"`},
		{"unknown path", "GET", "/data", nil, nil, 404, ""},
		{"page past the view", "GET", "/page?n=3", nil, nil, 404, "past the end of the view"},

		// 405: what the endpoints do not do.
		{"post layout", "POST", "/layout", []byte("0"), nil, 405, ""},
		{"delete layout", "DELETE", "/layout", nil, nil, 405, ""},
		{"put status", "PUT", "/status", []byte("{}"), nil, 405, ""},
		{"put steps", "PUT", "/steps", []byte("0"), nil, 405, ""},

		// 400: a bad query, or a layout the layout file would refuse too.
		{"bad page number", "GET", "/page?n=x", nil, nil, 400, "want a view page number"},
		{"bad line count", "GET", "/vmas?lines=-1", nil, nil, 400, "want a count"},
		{"layout past data", "PUT", "/layout", []byte("0 1\n2 9"), nil, 400, "line 2, column 3: page 9 is past the end of data (8 pages)"},
		{"layout over max view pages", "PUT", "/layout", []byte("0*17"), nil, 400, "line 1, column 1"},
		{"layout costing nothing", "PUT", "/layout", []byte("0*99999999999"), nil, 400, "line 1, column 1"},
		{"layout unparsable", "PUT", "/layout", []byte("0 - 3"), nil, 400, "line 1, column 3"},
		{"steps past data", "POST", "/steps", []byte("0-5\nremap 0 2 9"), nil, 400, "line 2, column 11: page 10 is past the end of data (8 pages)"},

		// 413 and 431: bodies and headers past their bounds.
		{"body over the bound", "PUT", "/layout", tooBig, nil, 413, "over " + strconv.FormatInt(s.maxBody, 10) + " bytes"},
		{"steps body over the bound", "POST", "/steps", bytes.Repeat([]byte("# long\n"), maxStepsBody/7+1), nil, 413, "steps not drawn: the body is over 1048576 bytes"},
		{"headers over the bound", "GET", "/status", nil, map[string]string{"X-Big": strings.Repeat("x", 64<<10)}, 431, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			layoutBefore, genBefore := string(e.Main().LayoutText()), e.Main().Generation()
			var body io.Reader
			if c.body != nil {
				body = bytes.NewReader(c.body)
			}
			resp, got := call(t, s, c.method, c.path, body, c.hdr)
			if resp.StatusCode != c.want {
				t.Fatalf("%s %s: %s %q, want %d", c.method, c.path, resp.Status, got, c.want)
			}
			if c.want < 400 {
				return
			}
			if c.line != "" {
				if strings.Count(got, "\n") != 1 || !strings.HasSuffix(got, "\n") {
					t.Errorf("answer %q is not one line", got)
				}
				if !strings.Contains(got, c.line) {
					t.Errorf("answer %q does not say %q", got, c.line)
				}
			}
			if l, g := string(e.Main().LayoutText()), e.Main().Generation(); l != layoutBefore || g != genBefore {
				t.Errorf("a refused request changed the layout: %q gen %d -> %q gen %d", layoutBefore, genBefore, l, g)
			}
		})
	}
}

// otherPort returns a port number other than port.
func otherPort(t *testing.T, port string) int {
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	if p == 65535 {
		return p - 1
	}
	return p + 1
}

// TestRefusedLayoutSaysWhere: a refused layout's line and column are in headers too, for the
// page to mark the spot, and its message is the layout file's (status records it alike).
func TestRefusedLayoutSaysWhere(t *testing.T) {
	e := newEngine(t, engine.Options{Source: bytes.NewReader(letters(8))})
	s := newServer(t, e, Options{})
	resp, got := call(t, s, "PUT", "/layout", strings.NewReader("# three pages\n0 1 2\n\t3, 12 4\n"), nil)
	if resp.StatusCode != 400 {
		t.Fatalf("PUT: %s %q, want 400", resp.Status, got)
	}
	if l, c := resp.Header.Get(hdrErrorLine), resp.Header.Get(hdrErrorColumn); l != "3" || c != "5" {
		t.Errorf("position headers: line %q column %q, want 3 and 5", l, c)
	}
	const want = "line 3, column 5: page 12 is past the end of data (8 pages)\n"
	if got != want {
		t.Errorf("answer %q, want %q", got, want)
	}
	if le := e.Main().LastError(); le != "layout: "+strings.TrimSpace(want) {
		t.Errorf("status last_error %q, want the same refusal", le)
	}
	// The same text through the layout file's session is refused the same way.
	w := e.Main().NewLayoutWriter(true)
	_, err := w.Write([]byte("# three pages\n0 1 2\n\t3, 12 4\n"), 0, 1)
	if err == nil || err.Error()+"\n" != want {
		t.Errorf("the layout file refuses it with %v, the page with %q", err, want)
	}
}

// TestPutLayout: an accepted layout answers 204, is in force at once, and reads back in
// canonical form; an empty body returns to the identity; the named view is its own.
func TestPutLayout(t *testing.T) {
	e := newEngine(t, engine.Options{Source: bytes.NewReader(letters(8))})
	if _, err := e.CreateView("a"); err != nil {
		t.Fatal(err)
	}
	s := newServer(t, e, Options{})
	for _, c := range []struct{ path, body, want string }{
		{"/layout", "2 1 0", "2-0\n"},
		{"/layout", "0 1 2 3 7 6 5 4", "0-3 7-4\n"},
		{"/layout", "remap 0 1 2\n# comment\n", "2-1 2-7\n"},
		{"/layout", "", "# identity: follows data, now 0-7\n"},
		{"/layout?view=a", "5*3", "5*3\n"},
	} {
		gen := e.Main().Generation()
		resp, got := call(t, s, "PUT", c.path, strings.NewReader(c.body), nil)
		if resp.StatusCode != http.StatusNoContent || got != "" {
			t.Fatalf("PUT %s %q: %s %q, want 204", c.path, c.body, resp.Status, got)
		}
		if text := mustGet(t, s, strings.Replace(c.path, "layout", "layout", 1)); text != c.want {
			t.Errorf("PUT %s %q: GET reads %q, want %q", c.path, c.body, text, c.want)
		}
		if c.path == "/layout" && e.Main().Generation() != gen+1 {
			t.Errorf("PUT %q: generation %d, want %d", c.body, e.Main().Generation(), gen+1)
		}
	}
	if text := string(e.Main().LayoutText()); text != "# identity: follows data, now 0-7\n" {
		t.Errorf("the named view's layout changed the main view: %q", text)
	}
}

// TestLayoutBodyBound: the bound on a body still takes the largest legal layout written page
// by page with the longest page numbers (here a small --max-view-pages and a store whose last
// page has many digits would do; leading zeros make the numbers long instead).
func TestLayoutBodyBound(t *testing.T) {
	const maxView = 1000
	e := newEngine(t, engine.Options{Source: bytes.NewReader(letters(8)), MaxViewPages: maxView})
	s := newServer(t, e, Options{MaxViewPages: maxView})
	var b strings.Builder
	for i := 0; i < maxView; i++ {
		fmt.Fprintf(&b, "%016d ", i%8) // 16 digits, the most a page number below 2^52 has
	}
	b.WriteString("\n" + strings.Repeat("#", layoutSlack-2) + "\n")
	if int64(b.Len()) > s.maxBody {
		t.Fatalf("the largest legal layout is %d bytes, over the bound %d", b.Len(), s.maxBody)
	}
	resp, got := call(t, s, "PUT", "/layout", strings.NewReader(b.String()), nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("PUT of the largest legal layout (%d bytes): %s %q", b.Len(), resp.Status, got)
	}
	if st := e.Main().Status(); fieldOf(st, "view_pages") != int64(maxView) {
		t.Errorf("view_pages %v, want %d", fieldOf(st, "view_pages"), maxView)
	}
}

func fieldOf(st []engine.Field, key string) any {
	for _, f := range st {
		if f.Key == key {
			return f.Value
		}
	}
	return nil
}

// TestSlowClients: a client that sends its headers or its body too slowly is cut off at the
// deadline, and a body cut off applies nothing.
func TestSlowClients(t *testing.T) {
	e := newEngine(t, engine.Options{Source: bytes.NewReader(letters(8))})
	lim := testLimits()
	lim.readHeader = 300 * time.Millisecond
	lim.read = 800 * time.Millisecond
	s := newServer(t, e, Options{limits: lim})
	addr := s.listener.Addr().String()

	t.Run("headers", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /status?token=%s HTTP/1.1\r\nHost: %s\r\n", s.token, addr) // and never the blank line
		start := time.Now()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		b, err := io.ReadAll(c)
		if err != nil {
			t.Fatalf("the server kept a client sending its headers slowly for %v: %v", time.Since(start), err)
		}
		if strings.Contains(string(b), "200 OK") {
			t.Fatalf("a request without its end of headers was answered: %q", b)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("cut off after %v, want about %v", d, lim.readHeader)
		}
	})

	t.Run("body", func(t *testing.T) {
		gen := e.Main().Generation()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "PUT /layout?token=%s HTTP/1.1\r\nHost: %s\r\nContent-Length: 100\r\n\r\n2 1 0", s.token, addr)
		start := time.Now()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		b, err := io.ReadAll(c)
		if err != nil {
			t.Fatalf("the server kept a client sending its body slowly for %v: %v", time.Since(start), err)
		}
		if !strings.HasPrefix(string(b), "HTTP/1.1 408") {
			t.Errorf("a body cut off was answered %q, want 408", b)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("cut off after %v, want about %v", d, lim.read)
		}
		if e.Main().Generation() != gen {
			t.Errorf("a body cut off applied a layout")
		}
	})
}
