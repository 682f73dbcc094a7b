package remapper

import (
	"os"
	"strings"
	"testing"

	"github.com/nlfs/nlfs/run"
)

// TestFramesShowAliasing: view pages showing one store page share one
// physical frame; distinct store pages have distinct frames.
func TestFramesShowAliasing(t *testing.T) {
	for _, b := range []Backend{Remap, MMap} {
		t.Run(string(b), func(t *testing.T) {
			m, err := New(Options{Backend: b})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if err := m.Truncate(3 * pageSize); err != nil {
				t.Fatal(err)
			}
			// view: 2 0 2 1 — store page 2 at view pages 0 and 2.
			if err := m.Apply([]run.Run{{View: 0, File: 2, Count: 1}, {View: 1, File: 0, Count: 1}, {View: 2, File: 2, Count: 1}, {View: 3, File: 1, Count: 1}}); err != nil {
				t.Fatal(err)
			}
			frames, note := m.Frames(64)
			if os.Geteuid() != 0 {
				if frames != nil || !strings.Contains(note, "CAP_SYS_ADMIN") {
					t.Fatalf("without root: frames %v note %q", frames, note)
				}
				return
			}
			if frames == nil {
				t.Fatalf("as root: no frames: %s", note)
			}
			if frames[0] != frames[2] {
				t.Errorf("aliased view pages 0 and 2 have frames %#x and %#x", frames[0], frames[2])
			}
			if frames[0] == frames[1] || frames[1] == frames[3] || frames[0] == frames[3] {
				t.Errorf("distinct store pages share a frame: %#x", frames)
			}
		})
	}
	m, err := New(Options{Backend: Gather})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m.Truncate(pageSize)
	if frames, note := m.Frames(64); frames != nil || !strings.Contains(note, "gather") {
		t.Errorf("gather: frames %v note %q", frames, note)
	}
}
