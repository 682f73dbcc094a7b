package web

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/nlfs/nlfs/engine"
	"github.com/nlfs/nlfs/layout"
	"github.com/nlfs/nlfs/layout/render"
	"github.com/nlfs/nlfs/run"
)

// The step player: a layout's remap_file_pages calls one at a time, drawn as `nlfs layout show
// --steps --svg` draws them (layout.Steps, render.StepsSVG), for the page to show call by call.

// maxStepsBody bounds a POST /steps body: the text of a layout to draw, held whole while it is
// drawn. A drawing of calls is for layouts a person reads; applying larger ones is PUT /layout's.
const maxStepsBody = 1 << 20

// stepsAnswer is what GET and POST /steps answer.
type stepsAnswer struct {
	// SVG is the drawing of every step, as `nlfs layout show --steps --svg` makes it.
	SVG string `json:"svg"`
	// Steps are the steps in order: the view the calls start from, then one per call.
	Steps []stepInfo `json:"steps"`
}

// stepInfo is one step, in words, for the player's caption.
type stepInfo struct {
	Call   string `json:"call"`   // "start", or the call as a layout line: "remap VIEWPAGE NPAGES PGOFF"
	Change string `json:"change"` // what the call did to the VMAs (render.StepChange), or where the calls start
	VMAs   int    `json:"vmas"`   // the VMAs the view holds after it since Linux 4.0: one per run
}

// getSteps is GET /steps: the calls that build the layout in force.
func (s *Server) getSteps(w http.ResponseWriter, r *http.Request, v *engine.View) {
	steps, err := buildSteps(v.Snapshot().Runs)
	if err != nil {
		refuse(w, http.StatusBadRequest, err.Error())
		return
	}
	s.replySteps(w, steps)
}

// postSteps is POST /steps: the calls of the layout text in the body, checked as PUT /layout
// checks it but never applied: its remap lines one by one, or, for a page list alone, the calls
// that would build it.
func (s *Server) postSteps(w http.ResponseWriter, r *http.Request, v *engine.View) {
	if err := s.takePutSlot(r.Context()); err != nil {
		refuse(w, http.StatusServiceUnavailable, "steps not drawn: "+err.Error())
		return
	}
	defer func() { <-s.putSlots }()
	text, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxStepsBody))
	if err != nil {
		refuseBody(w, err, "steps not drawn", fmt.Sprintf("the body is over %d bytes (the step player draws layouts a person reads; apply larger ones)", maxStepsBody))
		return
	}
	l, steps, err := layout.Steps(text, layout.Limits{DataPages: s.e.DataPages(), MaxViewPages: s.maxView})
	if err != nil {
		refuseLayout(w, err)
		return
	}
	if len(steps) == 1 && !l.Identity {
		if steps, err = buildSteps(l.Runs); err != nil {
			refuse(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	s.replySteps(w, steps)
}

// buildSteps are the calls the remap backend makes to build runs: the store mapped in order
// over the view's pages (one mmap, one VMA), then one remap_file_pages per run not already in
// place, in view order. After the last call the view holds runs.
func buildSteps(runs []run.Run) ([]layout.Step, error) {
	cur := run.Identity(run.ViewPages(runs))
	steps := []layout.Step{{Runs: cur}}
	calls := 0
	for _, r := range runs {
		if r.File != r.View {
			calls++
		}
	}
	if calls > layout.MaxSteps {
		return nil, fmt.Errorf("the layout takes %d remap calls; at most %d are drawn one by one", calls, layout.MaxSteps)
	}
	for _, r := range runs {
		if r.File == r.View {
			continue
		}
		cur = layout.RemapRuns(cur, r.View, r.Count, r.File)
		steps = append(steps, layout.Step{View: r.View, Count: r.Count, File: r.File, Runs: cur})
	}
	return steps, nil
}

func (s *Server) replySteps(w http.ResponseWriter, steps []layout.Step) {
	var b bytes.Buffer
	info := render.Info{DataPages: s.e.DataPages(), VMAs: -1, PageSize: engine.PageSize()}
	if err := render.StepsSVG(&b, steps, info); err != nil {
		refuse(w, http.StatusInternalServerError, "steps: "+err.Error())
		return
	}
	a := stepsAnswer{SVG: b.String(), Steps: make([]stepInfo, len(steps))}
	for i, st := range steps {
		a.Steps[i] = stepInfo{Call: "start", VMAs: len(st.Runs)}
		if i == 0 {
			a.Steps[i].Change = "the calls start from " + vmaWord(len(st.Runs))
			continue
		}
		a.Steps[i].Call = "remap " + strconv.FormatInt(st.View, 10) + " " + strconv.FormatInt(st.Count, 10) + " " + strconv.FormatInt(st.File, 10)
		a.Steps[i].Change = render.StepChange(steps[i-1].Runs, st.Runs, st)
	}
	replyJSON(w, a)
}

func vmaWord(n int) string {
	if n == 1 {
		return "1 VMA"
	}
	return strconv.Itoa(n) + " VMAs"
}
