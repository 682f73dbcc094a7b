package fs

import (
	"fmt"
	"strings"
)

func (r *Root) renderMap() []byte {
	var b strings.Builder
	for _, run := range r.m.Runs() {
		for i := int64(0); i < run.Count; i++ {
			fmt.Fprintf(&b, "view %d -> file %d\n", run.View+i, run.File+i)
		}
	}
	return []byte(b.String())
}
func (r *Root) renderSVG() []byte { return []byte("<svg viewBox=\"0 0 1 1\"></svg>\n") }
