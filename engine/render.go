package engine

import (
	"bytes"
	"strings"

	"github.com/nlfs/nlfs/layout/render"
)

// renderInfo gathers what the renderers draw beyond the runs: what the kernel holds for the
// view.
func (v *View) renderInfo() render.Info {
	st := v.rv.Status()
	info := render.Info{DataPages: v.e.store.DataPages(), VMAs: st.VMAs, Backend: string(st.Backend)}
	// Physical frames prove aliasing; drawn for views the text map draws page by page.
	info.Frames, info.FramesNote = v.rv.Frames(render.SmallView)
	return info
}

// MapText is the map file: the mapping drawn as text.
func (v *View) MapText() []byte {
	info := v.renderInfo()
	var b bytes.Buffer
	if err := render.Text(&b, v.rv.Runs(), info); err != nil {
		return []byte("map: " + err.Error() + "\n")
	}
	return b.Bytes()
}

// MapSVG is map.svg: the same as a picture.
func (v *View) MapSVG() []byte {
	info := v.renderInfo()
	var b bytes.Buffer
	if err := render.SVG(&b, v.rv.Runs(), info); err != nil {
		return []byte("<!-- map.svg: " + err.Error() + " -->\n")
	}
	return b.Bytes()
}

// VMAsText is the vmas file: the kernel's own record of the view mapping, the lines of the
// daemon's /proc/self/maps that cover it.
func (v *View) VMAsText() []byte {
	lines := v.rv.MapsLines()
	if len(lines) == 0 {
		return []byte("# no VMA covers the view (backend " + string(v.rv.Status().Backend) + ")\n")
	}
	return []byte(strings.Join(lines, "\n") + "\n")
}
