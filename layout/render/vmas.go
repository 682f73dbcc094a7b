package render

import (
	"strconv"
	"strings"

	"github.com/nlfs/nlfs/run"
)

// mapBox is one box of a small view's drawing: view pages View..View+Count-1 showing store pages
// File..File+Count-1. With the kernel's VMAs known it is one VMA and Line is its line of `vmas`;
// otherwise it is one run and Line is "".
type mapBox struct {
	run.Run
	Line string
}

// mapBoxes returns the boxes a small view is drawn with, and whether they are the kernel's VMAs:
// the VMAs when Info says where they are and they tile the view exactly, else the runs. A VMA that
// the kernel merged with a mapping beside the view is clipped to the view; lines that do not fit
// the view (read while a new layout was being swapped in) make the drawing fall back to the runs
// rather than draw something the kernel does not hold.
func mapBoxes(runs []run.Run, pages []int64, info Info) ([]mapBox, bool) {
	if boxes, ok := mapVMABoxes(pages, info); ok {
		return boxes, true
	}
	boxes := make([]mapBox, 0, len(runs))
	var view int64
	for _, r := range runs {
		boxes = append(boxes, mapBox{Run: run.Run{View: view, File: r.File, Count: r.Count}})
		view += r.Count
	}
	return boxes, false
}

func mapVMABoxes(pages []int64, info Info) ([]mapBox, bool) {
	if len(info.Maps) == 0 || info.ViewAddr == 0 {
		return nil, false
	}
	ps := uint64(info.pageSize())
	n := int64(len(pages))
	var boxes []mapBox
	var next int64 // the view page the next VMA must start at
	for _, line := range info.Maps {
		lo, hi, off, ok := parseMapsLine(line)
		if !ok || lo%ps != 0 || hi%ps != 0 || hi <= info.ViewAddr {
			return nil, false
		}
		from, to := int64(0), int64((hi-info.ViewAddr)/ps)
		file := int64(off / ps)
		if lo >= info.ViewAddr {
			from = int64((lo - info.ViewAddr) / ps)
		} else {
			file += int64((info.ViewAddr - lo) / ps) // merged with a mapping before the view
		}
		to = min(to, n)
		if from != next || to <= from {
			return nil, false
		}
		// The VMA must show what the layout says, page for page.
		for v := from; v < to; v++ {
			if pages[v] != file+v-from {
				return nil, false
			}
		}
		boxes = append(boxes, mapBox{Run: run.Run{View: from, File: file, Count: to - from}, Line: line})
		next = to
	}
	return boxes, next == n
}

// parseMapsLine reads the address range and the file offset of a /proc/PID/maps line:
// "7f0b4a1c2000-7f0b4a1c5000 rw-s 00002000 00:01 1234 /memfd:nlfs-data (deleted)".
func parseMapsLine(line string) (lo, hi, off uint64, ok bool) {
	f := strings.Fields(line)
	if len(f) < 3 {
		return 0, 0, 0, false
	}
	a, b, found := strings.Cut(f[0], "-")
	if !found {
		return 0, 0, 0, false
	}
	var err1, err2, err3 error
	lo, err1 = strconv.ParseUint(a, 16, 64)
	hi, err2 = strconv.ParseUint(b, 16, 64)
	off, err3 = strconv.ParseUint(f[2], 16, 64)
	return lo, hi, off, err1 == nil && err2 == nil && err3 == nil && lo < hi
}

// mapsColumns is the part of a maps line the drawings quote: address range, permissions and file
// offset; the device, inode and path are the store's, the same on every line.
func mapsColumns(line string) string {
	f := strings.Fields(line)
	return strings.Join(f[:min(3, len(f))], " ")
}

// pageSize is Info.PageSize, 4096 when not given.
func (info Info) pageSize() int64 {
	if info.PageSize > 0 {
		return info.PageSize
	}
	return 4096
}

// letter is what a drawing shows of store page f's contents: its first byte when that is a
// printable character other than a space, "." when it is not, "" when contents are unknown.
func (info Info) letter(f int64, st *mapStats) string {
	if info.FirstByte == nil {
		return ""
	}
	if st.past(f) {
		return "." // reads as zeros
	}
	c, ok := info.FirstByte(f)
	switch {
	case !ok:
		return ""
	case c > ' ' && c <= '~':
		return string(c)
	}
	return "."
}

// spanText writes view or store pages a..a+n-1 as "a" or "a-b".
func spanText(a, n int64) string { return mapSpan(a, a+n-1) }
