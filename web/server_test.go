package web

import (
	"crypto/sha256"
	"encoding/base64"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/nlfs/nlfs/engine"
)

// TestAddresses: the page is on loopback by default, with a fresh random token of 128 bits in
// its full address and none in the address status shows; status says web: off again after
// Close.
func TestAddresses(t *testing.T) {
	e := newEngine(t, engine.Options{Pages: 4})
	s1, err := New(e, Options{})
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(s1.URL())
	if err != nil {
		t.Fatalf("URL %q: %v", s1.URL(), err)
	}
	host, _, _ := net.SplitHostPort(u.Host)
	if host != "127.0.0.1" || u.Path != "/" {
		t.Errorf("URL %q: want http://127.0.0.1:PORT/?token=…", s1.URL())
	}
	tok := u.Query().Get("token")
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(tok) {
		t.Errorf("token %q: want 128 random bits in hex", tok)
	}
	if s1.Address() != "http://"+u.Host+"/" || strings.Contains(s1.Address(), tok) {
		t.Errorf("Address %q: want the URL without its token", s1.Address())
	}
	if got := fieldOf(e.Main().Status(), "web"); got != s1.Address() {
		t.Errorf("status web: %v, want %s", got, s1.Address())
	}
	s2 := newServer(t, e, Options{})
	if s2.token == s1.token {
		t.Errorf("two servers made the same token %s", s1.token)
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s1.Close(); err != nil {
		t.Errorf("a second Close: %v", err)
	}
	if got := fieldOf(e.Main().Status(), "web"); got != "off" {
		t.Errorf("status web after Close: %v, want off", got)
	}
	if _, err := New(e, Options{Token: "short"}); err == nil {
		t.Error("a token of 5 characters was taken")
	}
	given := strings.Repeat("abcd", 8)
	s3 := newServer(t, e, Options{Token: given})
	if !strings.HasSuffix(s3.URL(), "?token="+given) {
		t.Errorf("URL %q does not carry the token given", s3.URL())
	}
}

// TestNonLoopbackWarns: serving every address is allowed with one line of warning, under the
// host name, and still refuses a Host that is none of the machine's.
func TestNonLoopbackWarns(t *testing.T) {
	e := newEngine(t, engine.Options{Pages: 4})
	var notes []string
	s := newServer(t, e, Options{Addr: "0.0.0.0:0", Note: func(m string) { notes = append(notes, m) }})
	if len(notes) != 1 || strings.Contains(notes[0], "\n") || !strings.Contains(notes[0], "not a loopback address") {
		t.Fatalf("notes %q: want one line warning of a non-loopback address", notes)
	}
	name, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(s.listener.Addr().String())
	if want := "http://" + net.JoinHostPort(name, port) + "/"; s.Address() != want {
		t.Errorf("Address %q, want %q", s.Address(), want)
	}
	for host, want := range map[string]int{
		net.JoinHostPort(name, port): 200, "127.0.0.1:" + port: 200, "localhost:" + port: 200,
		"evil.example:" + port: 403,
	} {
		if resp, body := call(t, s, "GET", "/status", nil, map[string]string{"Host": host}); resp.StatusCode != want {
			t.Errorf("Host %s: %s %q, want %d", host, resp.Status, body, want)
		}
	}
	// Loopback, asked by name, warns of nothing.
	notes = nil
	newServer(t, e, Options{Addr: "localhost:0", Note: func(m string) { notes = append(notes, m) }})
	if len(notes) != 0 {
		t.Errorf("localhost warned: %q", notes)
	}
}

// TestPagePolicy: the page comes with a Content-Security-Policy that loads nothing from
// anywhere but the page's own origin and allows exactly its inline script and style; every
// other answer may load nothing at all; none may be framed.
func TestPagePolicy(t *testing.T) {
	e := newEngine(t, engine.Options{Pages: 4})
	s := newServer(t, e, Options{})
	resp, html := call(t, s, "GET", "/", nil, nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("policy %q lacks %q", csp, want)
		}
	}
	if regexp.MustCompile(`https?:|\*|'unsafe-inline'|'unsafe-eval'`).MatchString(csp) {
		t.Errorf("policy %q allows a remote load or inline code beyond the page's own", csp)
	}
	for _, tag := range []string{"script", "style"} {
		m := regexp.MustCompile(`(?s)<`+tag+`>(.*?)</`+tag+`>`).FindAllStringSubmatch(html, -1)
		if len(m) != 1 {
			t.Fatalf("the page has %d inline <%s>, want 1", len(m), tag)
		}
		sum := sha256.Sum256([]byte(m[0][1]))
		if h := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, tag+"-src "+h) {
			t.Errorf("policy %q does not allow the page's own %s (%s)", csp, tag, h)
		}
	}
	if regexp.MustCompile(`(?i)<(script|link|img|iframe)[^>]+(src|href)=`).MatchString(html) {
		t.Errorf("the page loads something by address")
	}
	for _, path := range []string{"/status", "/layout", "/events?view=nope"} {
		resp, _ := call(t, s, "GET", path, nil, nil)
		if got := resp.Header.Get("Content-Security-Policy"); got != cspNone {
			t.Errorf("GET %s: policy %q, want %q", path, got, cspNone)
		}
		if resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("Referrer-Policy") != "no-referrer" || resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s: headers %v", path, resp.Header)
		}
	}
}
