package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"net/http"

	"github.com/nlfs/nlfs/engine"
)

// static holds the page: plain HTML, CSS and JavaScript, no build step. index.html names
// where style.css and app.js go ({{style}}, {{script}}); they are put inline, so that the
// page is one request and its Content-Security-Policy can allow exactly those two by hash
// and nothing from anywhere else.
//
//go:embed static/index.html static/style.css static/app.js
var static embed.FS

// page is the assembled page and the policy it is served with.
type page struct {
	html []byte
	csp  string
}

// cspNone is the policy of every answer but the page and map.svg: nothing may load.
const cspNone = "default-src 'none'; frame-ancestors 'none'"

func buildPage() (page, error) {
	read := func(name string) ([]byte, error) {
		b, err := static.ReadFile("static/" + name)
		if err != nil {
			return nil, fmt.Errorf("web: the embedded page: %w", err)
		}
		return b, nil
	}
	html, err := read("index.html")
	if err != nil {
		return page{}, err
	}
	style, err := read("style.css")
	if err != nil {
		return page{}, err
	}
	script, err := read("app.js")
	if err != nil {
		return page{}, err
	}
	for _, m := range []string{"{{style}}", "{{script}}"} {
		if bytes.Count(html, []byte(m)) != 1 {
			return page{}, fmt.Errorf("web: the embedded page names %s %d times, want once", m, bytes.Count(html, []byte(m)))
		}
	}
	html = bytes.Replace(html, []byte("{{style}}"), style, 1)
	html = bytes.Replace(html, []byte("{{script}}"), script, 1)
	hash := func(b []byte) string {
		sum := sha256.Sum256(b)
		return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	}
	// img-src: map.svg is fetched (with the token in a header) and shown from a blob: URL;
	// its density image is a data: URL.
	csp := "default-src 'none'; script-src " + hash(script) + "; style-src " + hash(style) +
		"; img-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	return page{html: html, csp: csp}, nil
}

func (s *Server) servePage(w http.ResponseWriter, r *http.Request, v *engine.View) {
	w.Header().Set("Content-Security-Policy", s.page.csp)
	reply(w, "text/html; charset=utf-8", s.page.html)
}
