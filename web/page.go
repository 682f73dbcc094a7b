package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"regexp"
	"strings"

	"github.com/nlfs/nlfs/engine"
)

// static holds the page: plain HTML, CSS and JavaScript, no build step. index.html is an
// html/template that puts style.css and the script (app.js and its parts) inline, so that the
// page is one request and its Content-Security-Policy can allow exactly those two by hash and
// nothing from anywhere else, and that holds the view's state as it is when the page is asked
// for: the picture, the title, status, the layout, vmas. The first paint is complete without
// waiting for the event stream, and the page refreshes itself by asking for itself again
// (app.js), so that this template is the one renderer of all of it.
//
//go:embed static/index.html static/style.css static/*.js
var static embed.FS

// scripts are the parts of the page's script, in the order they go into it: one strict function,
// so that they share its names and nothing leaks into the page's global scope.
var scripts = []string{"app.js", "picture.js", "steps.js", "start.js"}

// page is the parsed page and the policy it is served with.
type page struct {
	tmpl   *template.Template
	style  template.CSS
	script template.JS
	csp    string
}

// cspNone is the policy of every answer but the page and map.svg: nothing may load.
const cspNone = "default-src 'none'; frame-ancestors 'none'"

func buildPage() (page, error) {
	read := func(name string) (string, error) {
		b, err := static.ReadFile("static/" + name)
		if err != nil {
			return "", fmt.Errorf("web: the embedded page: %w", err)
		}
		return string(b), nil
	}
	html, err := read("index.html")
	if err != nil {
		return page{}, err
	}
	style, err := read("style.css")
	if err != nil {
		return page{}, err
	}
	script := "'use strict';\n(() => {\n"
	for _, name := range scripts {
		part, err := read(name)
		if err != nil {
			return page{}, err
		}
		script += part + "\n"
	}
	script += "})();\n"

	tmpl, err := template.New("index.html").Parse(html)
	if err != nil {
		return page{}, fmt.Errorf("web: the embedded page: %w", err)
	}
	hash := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	}
	// img-src: the step player shows its picture from a blob: URL; map.svg's density image is
	// a data: URL.
	csp := "default-src 'none'; script-src " + hash(script) + "; style-src " + hash(style) +
		"; img-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	return page{tmpl: tmpl, style: template.CSS(style), script: template.JS(script), csp: csp}, nil
}

// pageState is what the page shows of a view when it is asked for.
type pageState struct {
	Style      template.CSS
	Script     template.JS
	View       string   // the view's name, "" for the main view
	Names      []string // the named views
	Title      string   // beside "Mapping": the view's size
	Picture    template.HTML
	StatusJSON string // status.json, for the page to compare what the event stream says
	Status     []statusRow
	Generation int64
	Layout     string
	VMAs       string
}

// statusRow is one line of status: key, and the value as the status file writes it.
type statusRow struct{ Key, Value string }

// vmasLines bounds the vmas lines the page shows: a view of many runs has tens of thousands.
const vmasLines = 400

func (s *Server) servePage(w http.ResponseWriter, r *http.Request, v *engine.View) {
	status := v.Status() // gathered once: it reads the daemon's whole /proc/self/maps
	st := pageState{
		Style: s.page.style, Script: s.page.script,
		View: v.Name(), Names: s.e.ViewNames(),
		Picture:    inlineSVG(v.MapSVG(true)), // as GET /map.svg: the token is the mount owner's
		StatusJSON: strings.TrimSpace(string(engine.StatusJSON(status))),
		Status:     statusRows(engine.StatusText(status)),
		Generation: v.Generation(),
		Layout:     string(v.LayoutText()),
		VMAs:       string(firstLines(v.VMAsText(), vmasLines)),
	}
	st.Title = pictureTitle(st.Status)
	var b bytes.Buffer
	if err := s.page.tmpl.Execute(&b, st); err != nil {
		refuse(w, http.StatusInternalServerError, "the page: "+err.Error())
		return
	}
	w.Header().Set("Content-Security-Policy", s.page.csp)
	reply(w, "text/html; charset=utf-8", b.Bytes())
}

// statusRows splits the status file into its lines, so that the page shows each value exactly
// as `cat status` does.
func statusRows(text []byte) []statusRow {
	var rows []statusRow
	for line := range strings.SplitSeq(strings.TrimSuffix(string(text), "\n"), "\n") {
		k, v, _ := strings.Cut(line, ": ")
		rows = append(rows, statusRow{k, v})
	}
	return rows
}

// pictureTitle says the view's size from its status: "3 view pages, 3 runs, 3 data pages".
func pictureTitle(rows []statusRow) string {
	val := map[string]string{}
	for _, r := range rows {
		val[r.Key] = r.Value
	}
	n := func(key, one, many string) string {
		if val[key] == "1" {
			return "1 " + one
		}
		return val[key] + " " + many
	}
	return n("view_pages", "view page", "view pages") + ", " + n("runs", "run", "runs") + ", " +
		n("data_pages", "data page", "data pages")
}

// svgProlog and svgStyle are what map.svg holds that an SVG inside HTML must not: the XML
// declaration, and style attributes, which the page's policy would block (it allows its own
// style sheet only; the attributes only hint at pixelated scaling).
var (
	svgProlog = regexp.MustCompile(`^<\?xml[^>]*\?>\s*`)
	svgStyle  = regexp.MustCompile(` style="[^"]*"`)
)

// inlineSVG makes map.svg a part of the page. The renderer escapes every text it writes, so
// the SVG is markup the page can hold as it is.
func inlineSVG(svg []byte) template.HTML {
	svg = svgProlog.ReplaceAll(svg, nil)
	svg = svgStyle.ReplaceAll(svg, nil)
	return template.HTML(svg)
}
