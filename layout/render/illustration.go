package render

import (
	"fmt"

	"github.com/nlfs/nlfs/run"
)

// IllustrationBase is the address Illustration maps view page 0 at.
const IllustrationBase = 0x7f0bdfa04000

// Illustration is what a mount of a store of dataPages pages holding the demos' letters (store
// page i starts with 'A'+i, pages from 26 on with zeros) gives the renderers for a view of runs
// served by backend: one VMA per run, as the kernel holds them, mapped from IllustrationBase.
// The pictures of the documentation are drawn from it, so that they are what a mount draws yet
// do not change from one drawing to the next (a real mount's addresses and inode do).
func Illustration(runs []run.Run, dataPages int64, backend string) Info {
	var maps []string
	var view uint64
	for _, r := range runs {
		lo := IllustrationBase + view*4096
		view += uint64(r.Count)
		maps = append(maps, fmt.Sprintf("%x-%x rw-s %08x 00:01 2054                       /memfd:nlfs-data (deleted)",
			lo, IllustrationBase+view*4096, r.File*4096))
	}
	return Info{
		DataPages: dataPages,
		VMAs:      int64(len(runs)),
		Backend:   backend,
		Maps:      maps,
		ViewAddr:  IllustrationBase,
		PageSize:  4096,
		FirstByte: func(p int64) (byte, bool) {
			if p >= 26 {
				return 0, true
			}
			return byte('A' + p), true
		},
	}
}
