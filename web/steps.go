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
	Change string `json:"change"` // what the call did to the VMAs (render.StepWords), or where the calls start
	VMAs   int    `json:"vmas"`   // the VMAs the view holds after it since Linux 4.0: one per run
	Before string `json:"before"` // what the calls up to it did to the one VMA before Linux 4.0, as the drawing says
}

// getSteps is GET /steps: the calls that build the layout in force.
func (s *Server) getSteps(w http.ResponseWriter, r *http.Request, v *engine.View) {
	steps, err := layout.BuildSteps(v.Snapshot().Runs)
	if err != nil {
		refuse(w, http.StatusBadRequest, err.Error())
		return
	}
	s.replySteps(w, steps)
}

// postSteps is POST /steps: the calls of the layout text in the body, checked as PUT /layout
// checks it but never applied: its remap lines one by one, or, for a page list alone, the calls
// that would build it (layout.Steps).
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
	_, steps, err := layout.Steps(text, layout.Limits{DataPages: s.e.DataPages(), MaxViewPages: s.maxView})
	if err != nil {
		refuseLayout(w, err)
		return
	}
	s.replySteps(w, steps)
}

func (s *Server) replySteps(w http.ResponseWriter, steps []layout.Step) {
	var b bytes.Buffer
	info := render.Info{DataPages: s.e.DataPages(), VMAs: -1, PageSize: engine.PageSize()}
	if err := render.StepsSVG(&b, steps, info); err != nil {
		refuse(w, http.StatusInternalServerError, "steps: "+err.Error())
		return
	}
	a := stepsAnswer{SVG: b.String(), Steps: make([]stepInfo, len(steps))}
	change, before := render.StepWords(steps)
	for i, st := range steps {
		a.Steps[i] = stepInfo{Call: "start", VMAs: len(st.Runs), Before: before[i]}
		if i == 0 {
			a.Steps[i].Change = "the calls start from " + render.Plural(int64(len(st.Runs)), "VMA")
			continue
		}
		a.Steps[i].Call = "remap " + strconv.FormatInt(st.View, 10) + " " + strconv.FormatInt(st.Count, 10) + " " + strconv.FormatInt(st.File, 10)
		a.Steps[i].Change = change[i]
	}
	replyJSON(w, a)
}
