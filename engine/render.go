package engine

import (
	"bytes"
	"strings"

	"github.com/nlfs/nlfs/layout/render"
	"github.com/nlfs/nlfs/remapper"
)

// renderInfo gathers what the renderers draw beyond the runs: what the kernel holds for the
// view (its VMAs, where the view is mapped, the physical frames) and, for small views, what the
// store pages hold.
func (v *View) renderInfo() render.Info {
	st := v.rv.Status()
	info := render.Info{
		DataPages: v.e.store.DataPages(),
		VMAs:      st.VMAs,
		Backend:   string(st.Backend),
		PageSize:  remapper.PageSize(),
	}
	// The VMAs as the kernel lists them, so that map and map.svg draw one box per VMA with its
	// line of vmas. Status and MapsLines each take the lock: a layout applied between the two
	// leaves lines that do not tile the view, and the renderers then draw the runs instead.
	if st.ViewAddr != 0 {
		info.Maps, info.ViewAddr = v.rv.MapsLines(), uint64(st.ViewAddr)
	}
	// Physical frames prove aliasing; drawn for views the text map draws page by page.
	info.Frames, info.FramesNote = v.rv.Frames(render.SmallView)
	// Page contents (the demos' letters) for small views only: the renderers ask once per store
	// page they draw, so this is at most a few dozen one-byte reads of the store.
	if st.ViewPages <= render.SmallView {
		store := v.e.store
		info.FirstByte = func(page int64) (byte, bool) {
			var b [1]byte
			n, err := store.ReadData(b[:], page*remapper.PageSize())
			return b[0], n == 1 && err == nil
		}
	}
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
