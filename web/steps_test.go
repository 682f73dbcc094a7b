package web

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/nlfs/nlfs/engine"
)

// stepsOf asks for the steps (GET /steps with body nil, else POST) and decodes them.
func stepsOf(t *testing.T, s *Server, body []byte) stepsAnswer {
	t.Helper()
	method := "GET"
	var r io.Reader
	if body != nil {
		method, r = "POST", bytes.NewReader(body)
	}
	resp, text := call(t, s, method, "/steps", r, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%s /steps %q: %s %s %q", method, body, resp.Status, resp.Header.Get("Content-Type"), text)
	}
	var a stepsAnswer
	if err := json.Unmarshal([]byte(text), &a); err != nil {
		t.Fatalf("%s /steps: %v", method, err)
	}
	if err := xml.Unmarshal([]byte(a.SVG), new(struct{})); err != nil {
		t.Fatalf("%s /steps: the drawing is not well-formed: %v", method, err)
	}
	return a
}

// TestSteps: the step player gets, for the layout in force, the calls that build it (the store
// mapped in order, then one remap_file_pages per run not in place), and for a text its remap
// lines one by one (or, for a page list alone, the calls that would build it), never applying
// it; each step in words, with the VMAs it leaves, and the drawing `nlfs layout show --steps
// --svg` makes, with a row for each step.
func TestSteps(t *testing.T) {
	e := newEngine(t, engine.Options{Source: bytes.NewReader(letters(6))})
	s := newServer(t, e, Options{})
	type step struct {
		call, change string
		vmas         int
	}
	check := func(t *testing.T, a stepsAnswer, want []step) {
		t.Helper()
		var got []step
		for _, st := range a.Steps {
			got = append(got, step{st.Call, st.Change, st.VMAs})
			// Each caption says what the drawing's row says of the call before Linux 4.0.
			if !strings.Contains(a.SVG, "before 4.0: "+st.Before+"</text>") {
				t.Errorf("step %q: before 4.0 %q, which the drawing does not say", st.Call, st.Before)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("steps:\n%+v\nwant:\n%+v", got, want)
		}
		for _, st := range a.Steps {
			if !strings.Contains(a.SVG, ">"+st.Call+"</text>") {
				t.Errorf("the drawing has no row labelled %q", st.Call)
			}
		}
	}
	tlpi := []step{
		{"start", "the calls start from 1 VMA", 1},
		{"remap 0 1 5", "view page 0 shows store page 5: 1 VMA -> 2 (split at view page 1)", 2},
		{"remap 1 1 4", "view page 1 shows store page 4: 2 VMAs -> 3 (split at view page 2)", 3},
		{"remap 2 1 3", "view page 2 shows store page 3: 3 VMAs -> 4 (split at view page 3)", 4},
		{"remap 3 1 2", "view page 3 shows store page 2: 4 VMAs -> 5 (split at view page 4)", 5},
		{"remap 4 1 1", "view page 4 shows store page 1: 5 VMAs -> 6 (split at view page 5)", 6},
		{"remap 5 1 0", "view page 5 shows store page 0: 6 VMAs -> 6 (the VMA there replaced)", 6},
	}
	for _, c := range []struct {
		name  string
		apply string // applied first, "" for none
		body  string // POSTed, "" for GET
		want  []step
	}{
		{"identity in force", "", "", []step{{"start", "the calls start from 1 VMA", 1}}},
		{"reverse in force", "5-0", "", tlpi},
		{"a run in place makes no call", "0 1 5 3 4", "", []step{
			{"start", "the calls start from 1 VMA", 1},
			{"remap 2 1 5", "view page 2 shows store page 5: 1 VMA -> 3 (split at view pages 2 and 3)", 3},
		}},
		{"the editor's page list", "", "5 4 3 2 1 0", tlpi},
		{"the editor's calls", "", "0-5\nremap 0 2 4\nremap 0 2 0\n", []step{
			{"start", "the calls start from 1 VMA", 1},
			{"remap 0 2 4", "view pages 0-1 show store pages 4-5: 1 VMA -> 2 (split at view page 2)", 2},
			{"remap 0 2 0", "view pages 0-1 show store pages 0-1: 2 VMAs -> 1 (merged with the VMA after)", 1},
		}},
		{"the editor's identity", "", "# nothing\n", []step{{"start", "the calls start from 1 VMA", 1}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := e.Main().ApplyText(context.Background(), []byte(c.apply)); err != nil {
				t.Fatal(err)
			}
			layoutBefore, gen := string(e.Main().LayoutText()), e.Main().Generation()
			var body []byte
			if c.body != "" {
				body = []byte(c.body)
			}
			check(t, stepsOf(t, s, body), c.want)
			if string(e.Main().LayoutText()) != layoutBefore || e.Main().Generation() != gen {
				t.Errorf("drawing the steps changed the layout")
			}
		})
	}
}
