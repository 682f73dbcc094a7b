package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"

	"github.com/nlfs/nlfs/engine"
	"github.com/nlfs/nlfs/run"
)

// routes maps the endpoints. Each resolves ?view= first (viewed).
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.viewed(s.servePage))
	mux.HandleFunc("GET /events", s.viewed(s.serveEvents))
	mux.HandleFunc("GET /layout", s.viewed(getLayout))
	mux.HandleFunc("PUT /layout", s.viewed(s.putLayout))
	mux.HandleFunc("GET /map.svg", s.viewed(getMapSVG))
	mux.HandleFunc("GET /status", s.viewed(getStatus))
	mux.HandleFunc("GET /vmas", s.viewed(getVMAs))
	mux.HandleFunc("GET /page", s.viewed(s.getPage))
	mux.HandleFunc("GET /steps", s.viewed(s.getSteps))
	mux.HandleFunc("POST /steps", s.viewed(s.postSteps))
	return mux
}

// viewed resolves the view a request names (?view=NAME; none or empty: the main view) and
// answers 404 for one that does not exist.
func (s *Server) viewed(h func(http.ResponseWriter, *http.Request, *engine.View)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("view")
		v, ok := s.e.View(name)
		if !ok {
			refuse(w, http.StatusNotFound, fmt.Sprintf("no view %q (views: %v)", name, s.e.ViewNames()))
			return
		}
		h(w, r, v)
	}
}

func reply(w http.ResponseWriter, contentType string, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

func replyJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		refuse(w, http.StatusInternalServerError, "encode: "+err.Error())
		return
	}
	reply(w, "application/json", append(b, '\n'))
}

func getLayout(w http.ResponseWriter, r *http.Request, v *engine.View) {
	reply(w, "text/plain; charset=utf-8", v.LayoutText())
}

func getStatus(w http.ResponseWriter, r *http.Request, v *engine.View) {
	reply(w, "application/json", v.StatusJSON())
}

// cspSVG lets map.svg, opened by itself, show its embedded density image and nothing else.
const cspSVG = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

func getMapSVG(w http.ResponseWriter, r *http.Request, v *engine.View) {
	w.Header().Set("Content-Security-Policy", cspSVG)
	// The page's token is the mount owner's (the web file is theirs alone): it shows what the
	// daemon may see, physical frame numbers included when it runs with CAP_SYS_ADMIN.
	reply(w, "image/svg+xml", v.MapSVG(true))
}

// getVMAs is the vmas file; ?lines=N keeps the first N lines and says how many were left out
// (a view of many runs has tens of thousands).
func getVMAs(w http.ResponseWriter, r *http.Request, v *engine.View) {
	text := v.VMAsText()
	if q := r.URL.Query().Get("lines"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 0 {
			refuse(w, http.StatusBadRequest, fmt.Sprintf("lines=%q: want a count", q))
			return
		}
		text = firstLines(text, n)
	}
	reply(w, "text/plain; charset=utf-8", text)
}

// firstLines keeps the first n lines of text, adding a line that counts the rest.
func firstLines(text []byte, n int) []byte {
	end := 0
	for i := 0; i < n; i++ {
		k := bytes.IndexByte(text[end:], '\n')
		if k < 0 {
			return text
		}
		end += k + 1
	}
	rest := bytes.Count(text[end:], []byte("\n"))
	if rest == 0 {
		return text
	}
	return fmt.Appendf(append([]byte(nil), text[:end]...), "# … %d more lines\n", rest)
}

// maxAliases bounds the aliases /page lists; it counts them all.
const maxAliases = 64

// pageInfo is one view page: the store page it shows and every view page showing that store
// page too.
type pageInfo struct {
	View       int64   `json:"view"`
	Store      int64   `json:"store"`
	PastData   bool    `json:"pastData"`
	Aliases    []int64 `json:"aliases"` // the first maxAliases view pages showing Store, ascending
	AliasCount int64   `json:"aliasCount"`
}

// getPage answers /page?n=N, what hovering a view page of a large view shows. It walks the
// runs once: a million-run view costs a millisecond.
func (s *Server) getPage(w http.ResponseWriter, r *http.Request, v *engine.View) {
	q := r.URL.Query().Get("n")
	n, err := strconv.ParseInt(q, 10, 64)
	if err != nil || n < 0 {
		refuse(w, http.StatusBadRequest, fmt.Sprintf("n=%q: want a view page number", q))
		return
	}
	runs := v.Snapshot().Runs
	i := sort.Search(len(runs), func(i int) bool { return runs[i].View+runs[i].Count > n })
	if i == len(runs) || runs[i].View > n {
		refuse(w, http.StatusNotFound, fmt.Sprintf("view page %d is past the end of the view (%d pages)", n, run.ViewPages(runs)))
		return
	}
	f := runs[i].File + n - runs[i].View
	p := pageInfo{View: n, Store: f, PastData: f >= s.e.DataPages(), Aliases: []int64{}}
	for _, r := range runs {
		if f >= r.File && f < r.File+r.Count {
			p.AliasCount++
			if len(p.Aliases) < maxAliases {
				p.Aliases = append(p.Aliases, r.View+f-r.File)
			}
		}
	}
	replyJSON(w, p)
}
