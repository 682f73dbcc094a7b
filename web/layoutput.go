package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strconv"

	"github.com/nlfs/nlfs/engine"
	"github.com/nlfs/nlfs/layout"
)

// The largest PUT /layout body. The layout file takes text of any length, since it is parsed
// as it arrives; a body must have a bound all the same, or a client could stream forever. The
// bound still takes the largest legal layout written out page by page: every view page as its
// own number (page numbers stop at 2^52, 16 decimal digits) and a separator, for the largest
// view the engine allows, plus a mebibyte for comments and remap lines. With the default
// --max-view-pages (1048576) that is 18 MiB; it is never held in memory, only parsed.
const (
	bytesPerPage  = 17
	layoutSlack   = 1 << 20
	layoutReadBuf = 64 << 10
)

func maxLayoutBody(maxViewPages int64) int64 {
	if maxViewPages > (math.MaxInt64-layoutSlack)/bytesPerPage {
		return math.MaxInt64
	}
	return layoutSlack + maxViewPages*bytesPerPage
}

// Headers of a refused layout that say where the error is, for the page to mark the spot.
const (
	hdrErrorLine   = "Nlfs-Error-Line"
	hdrErrorColumn = "Nlfs-Error-Column"
)

// putLayout applies the body as the view's new layout through the same engine session as a
// write of the layout file (engine.LayoutWriter): the same parser, checks and limits, the
// same record in status. 204 when applied; 400 with the one-line error (and its line and
// column in headers) when refused; 413 for a body over the bound, and nothing applied.
func (s *Server) putLayout(w http.ResponseWriter, r *http.Request, v *engine.View) {
	if err := s.takePutSlot(r.Context()); err != nil {
		refuse(w, http.StatusServiceUnavailable, "layout not applied: "+err.Error())
		return
	}
	defer func() { <-s.putSlots }()

	body := http.MaxBytesReader(w, r.Body, s.maxBody)
	lw := v.NewLayoutWriter(true)
	buf := make([]byte, layoutReadBuf)
	var off int64
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if _, werr := lw.Write(buf[:n], off, webOwner); werr != nil {
				refuseLayout(w, werr)
				return
			}
			off += int64(n)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			refuseBody(w, err, "layout not applied", fmt.Sprintf("the body is over %d bytes (the largest layout of the view size allowed, written page by page)", s.maxBody))
			return
		}
	}
	var err error
	if off == 0 {
		err = v.ApplyEmpty(r.Context()) // what `: > layout` does
	} else {
		err = lw.Flush(r.Context(), webOwner)
	}
	if err != nil {
		refuseLayout(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// webOwner is who writes and closes a layout session of the web: one request writes its body
// and applies it, as one process writing and closing the layout file.
const webOwner = 0

// takePutSlot waits for one of the few layouts that may arrive at once (each holds a parser
// that grows with its view) or for the request to end.
func (s *Server) takePutSlot(ctx context.Context) error {
	select {
	case s.putSlots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// refuseLayout answers 400 with the engine's refusal, and its position when it has one.
func refuseLayout(w http.ResponseWriter, err error) {
	if errors.Is(err, engine.ErrNoView) {
		refuse(w, http.StatusNotFound, err.Error()) // removed while the layout arrived
		return
	}
	if le, ok := errors.AsType[*layout.Error](err); ok {
		w.Header().Set(hdrErrorLine, strconv.Itoa(le.Line))
		w.Header().Set(hdrErrorColumn, strconv.Itoa(le.Column))
	}
	refuse(w, http.StatusBadRequest, err.Error())
}

// refuseBody answers a body that could not be read whole: too large (tooBig says what the bound
// is), or too slow (the connection's read deadline, ReadTimeout, passed). what says what was
// not done.
func refuseBody(w http.ResponseWriter, err error, what, tooBig string) {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		refuse(w, http.StatusRequestEntityTooLarge, what+": "+tooBig)
		return
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		refuse(w, http.StatusRequestTimeout, what+": the body came too slowly")
		return
	}
	refuse(w, http.StatusBadRequest, what+": read the body: "+err.Error())
}
