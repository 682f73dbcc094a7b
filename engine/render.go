package engine

import (
	"bytes"
	"strings"

	"github.com/nlfs/nlfs/layout/render"
	"github.com/nlfs/nlfs/remapper"
	"github.com/nlfs/nlfs/run"
)

// renderInfo gathers what the renderers draw beyond the runs: what the kernel holds for the
// view (its VMAs, where the view is mapped, the physical frames) and, for small views, what the
// store pages hold.
//
// privileged says whether the reader may see physical frame numbers: since Linux 4.0 the kernel
// shows them only to CAP_SYS_ADMIN, because they help Rowhammer-style attacks. Another reader
// gets labels instead, 1, 2, … in the order of the view pages (drawn f1, f2, …), which still
// prove which view pages share a frame.
//
// It returns the runs in force with it, read in the same step as the VMA count and address.
func (v *View) renderInfo(privileged bool) (render.Info, []run.Run) {
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
	if !privileged && info.Frames != nil {
		info.Frames, info.FrameLabels = frameLabels(info.Frames), true
	}
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
	return info, st.InForce
}

// frameLabels replaces each physical frame number by its rank among the distinct frames, in
// the order of the view pages (0, not resident, stays 0).
func frameLabels(frames []uint64) []uint64 {
	rank := map[uint64]uint64{}
	labels := make([]uint64, len(frames))
	for i, f := range frames {
		if f == 0 {
			continue
		}
		if _, ok := rank[f]; !ok {
			rank[f] = uint64(len(rank) + 1)
		}
		labels[i] = rank[f]
	}
	return labels
}

// MapText is the map file: the mapping drawn as text, for a reader who may see physical
// frame numbers or not (renderInfo).
func (v *View) MapText(privileged bool) []byte {
	info, runs := v.renderInfo(privileged)
	var b bytes.Buffer
	if err := render.Text(&b, runs, info); err != nil {
		return []byte("map: " + err.Error() + "\n")
	}
	return b.Bytes()
}

// MapSVG is map.svg: the same as a picture.
func (v *View) MapSVG(privileged bool) []byte {
	info, runs := v.renderInfo(privileged)
	var b bytes.Buffer
	if err := render.SVG(&b, runs, info); err != nil {
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
