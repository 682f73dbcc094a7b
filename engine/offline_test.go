package engine

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestApplyOfflineMatchesView: the offline remapping writes exactly what a view of the same
// layout over the same store reads, for random layouts (repeats, descending ranges, remap
// lines, none at all: the identity), from a file and from a pipe; a layout past the source is refused by the plan.
func TestApplyOfflineMatchesView(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	content := make([]byte, 40*ps-77)
	for i := range content {
		content[i] = byte(rng.IntN(256))
	}
	srcPath := filepath.Join(t.TempDir(), "src")
	os.WriteFile(srcPath, content, 0o600)
	e := newEngine(t, Options{Source: bytes.NewReader(content)})
	for round := 0; round < 30; round++ {
		var text strings.Builder
		for n := 1 + rng.IntN(8); n > 0; n-- {
			a, b := rng.IntN(40), rng.IntN(40)
			switch rng.IntN(3) {
			case 0:
				text.WriteString(strconv.Itoa(a))
			case 1:
				text.WriteString(strconv.Itoa(a) + "-" + strconv.Itoa(b))
			default:
				text.WriteString(strconv.Itoa(a) + "*" + strconv.Itoa(1+rng.IntN(3)))
			}
			text.WriteByte(' ')
		}
		if rng.IntN(2) == 0 {
			text.WriteString("\nremap 0 1 " + strconv.Itoa(rng.IntN(40)) + "\n")
		}
		if round%10 == 0 { // no entries: the identity, the source page for page
			text.Reset()
			text.WriteString("# nothing but a comment\n")
		}
		if err := e.Main().ApplyText(ctx, []byte(text.String())); err != nil {
			t.Fatalf("%q: %v", text.String(), err)
		}
		want := make([]byte, e.Main().ViewSize())
		e.Main().rv.ReadView(want, 0)

		for _, from := range []string{"file", "pipe"} {
			src, _ := os.Open(srcPath)
			if from == "pipe" {
				r, w, _ := os.Pipe()
				go func(f *os.File) { io.Copy(w, f); w.Close(); f.Close() }(src)
				src = r
			}
			out, _ := os.Create(filepath.Join(t.TempDir(), "out"))
			if err := applyOffline([]byte(text.String()), src, out); err != nil {
				t.Fatalf("%q from a %s: %v", text.String(), from, err)
			}
			out.Close()
			src.Close()
			got, _ := os.ReadFile(out.Name())
			if !bytes.Equal(got, want) {
				t.Fatalf("%q from a %s: %d bytes differ from the view's %d", text.String(), from, len(got), len(want))
			}
		}
	}
	src, _ := os.Open(srcPath)
	defer src.Close()
	if _, err := PlanOffline([]byte("0 40"), src, OfflineOptions{}); err == nil || !strings.Contains(err.Error(), "page 40 is past the end of data (40 pages)") {
		t.Errorf("a page past the source: %v", err)
	}
}

// applyOffline plans and writes the remapping of src by text into out.
func applyOffline(text []byte, src, out *os.File) error {
	o, err := PlanOffline(text, src, OfflineOptions{})
	if err != nil {
		return err
	}
	defer o.Close()
	return o.WriteTo(out)
}
