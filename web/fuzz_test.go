package web

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nlfs/nlfs/engine"
	"github.com/nlfs/nlfs/layout"
	"github.com/nlfs/nlfs/run"
)

// FuzzPutLayout drives PUT /layout with arbitrary bodies. Accepted (204): GET /layout reads the
// canonical text of what layout.Parse makes of the body (for the identity, the engine's text of
// it, which follows data), and the view holds exactly its runs.
// Refused: 400 with one line (the parser's own error, its position in the headers), and the
// layout and generation as they were.
//
//	go test ./web -run '^$' -fuzz FuzzPutLayout -fuzztime 60s
func FuzzPutLayout(f *testing.F) {
	for _, seed := range []string{
		"2 1 0", "", "0-7", "7-0", "0 0 0", "0-1*2", "remap 0 1 2", "0 1 2\nremap 1 2 0\n",
		"# only a comment\n", "0*99999999999", "8", "0x7", "0 - 3", "remap 0 0 1", "remap 9 1 0",
		"0,1\t2\r\n3", "\xff\xfe", "0*64", "0*65", "99999999999999999999",
	} {
		f.Add([]byte(seed))
	}
	const dataPages, maxView = 8, 64
	e := newEngine(f, engine.Options{Source: bytes.NewReader(letters(dataPages)), MaxViewPages: maxView})
	s := newServer(f, e, Options{MaxViewPages: maxView})
	lim := layout.Limits{DataPages: dataPages, MaxViewPages: maxView}
	f.Fuzz(func(t *testing.T, body []byte) {
		v := e.Main()
		before, gen := mustGet(t, s, "/layout"), v.Generation()
		resp, got := call(t, s, "PUT", "/layout", bytes.NewReader(body), nil)
		l, perr := layout.Parse(body, lim)
		switch resp.StatusCode {
		case 204:
			if perr != nil {
				t.Fatalf("PUT %q applied, but layout.Parse refuses it: %v", body, perr)
			}
			want, wantText := l.Runs, layout.AppendCanonical(nil, l.Runs)
			if l.Identity {
				want, wantText = run.Identity(dataPages), layout.IdentityText(dataPages)
			}
			if text := mustGet(t, s, "/layout"); text != string(wantText) {
				t.Fatalf("PUT %q: GET /layout %q, want %q", body, text, wantText)
			}
			if runs := v.Snapshot().Runs; !slices.Equal(runs, want) {
				t.Fatalf("PUT %q: the view has runs %v, want %v", body, runs, want)
			}
			if v.Generation() != gen+1 {
				t.Fatalf("PUT %q: generation %d, want %d", body, v.Generation(), gen+1)
			}
		case 400:
			if perr == nil {
				t.Fatalf("PUT %q refused (%q), but layout.Parse takes it", body, got)
			}
			if got != engine.OneLine(perr.Error())+"\n" || strings.Count(got, "\n") != 1 {
				t.Fatalf("PUT %q refused with %q, want the one line %q", body, got, perr.Error())
			}
			if le, ok := perr.(*layout.Error); ok {
				if resp.Header.Get(hdrErrorLine) != strconv.Itoa(le.Line) || resp.Header.Get(hdrErrorColumn) != strconv.Itoa(le.Column) {
					t.Fatalf("PUT %q: position headers %s:%s, want %d:%d", body, resp.Header.Get(hdrErrorLine), resp.Header.Get(hdrErrorColumn), le.Line, le.Column)
				}
			}
			if after := mustGet(t, s, "/layout"); after != before || v.Generation() != gen {
				t.Fatalf("PUT %q refused, yet the layout went %q -> %q, generation %d -> %d", body, before, after, gen, v.Generation())
			}
		default:
			t.Fatalf("PUT %q: %s %q, want 204 or 400", body, resp.Status, got)
		}
	})
}
