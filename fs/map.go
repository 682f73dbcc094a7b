package fs

import (
	"bytes"

	"github.com/nlfs/nlfs/layout"
)

// smallView is the largest view the map draws page by page.
const smallView = 64

// mapInfo gathers what the renderers draw beyond the runs.
func (r *Root) mapInfo() ([]layout.Run, layout.MapInfo) {
	st := r.m.Status()
	info := layout.MapInfo{
		DataPages: r.m.DataPages(),
		VMAs:      st.VMAs,
		Backend:   string(st.Backend),
	}
	// Physical frames prove aliasing; drawn for views the text map
	// draws page by page.
	info.Frames, info.FramesNote = r.m.Frames(smallView)
	return toLayoutRuns(r.m.Runs()), info
}

// renderMap is the map file: the mapping drawn as text.
func (r *Root) renderMap() []byte {
	runs, info := r.mapInfo()
	var b bytes.Buffer
	if err := layout.RenderText(&b, runs, info); err != nil {
		return []byte("map: " + err.Error() + "\n")
	}
	return b.Bytes()
}

// renderSVG is map.svg: the same as a picture.
func (r *Root) renderSVG() []byte {
	runs, info := r.mapInfo()
	var b bytes.Buffer
	if err := layout.RenderSVG(&b, runs, info); err != nil {
		return []byte("<!-- map.svg: " + err.Error() + " -->\n")
	}
	return b.Bytes()
}
