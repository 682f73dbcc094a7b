package remapper

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/nlfs/nlfs/run"
)

// TestCopyRunsMatchesView: CopyRuns writes exactly the bytes a mapped view of the same runs
// reads, into a file and into a pipe, for layouts of short runs (gathered), long ones
// (copied by the kernel), aliases, and a source that ends inside its last page; with the
// source read into memory, and with a source over the limit for that (gathered from a mapping).
func TestCopyRunsMatchesView(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	srcPages := int64(300)
	size := srcPages*ps - 123
	content := make([]byte, size)
	for i := range content {
		content[i] = byte(rng.IntN(256))
	}
	srcPath := filepath.Join(t.TempDir(), "src")
	if err := os.WriteFile(srcPath, content, 0o600); err != nil {
		t.Fatal(err)
	}
	layouts := map[string][]int64{
		"identity": identity(srcPages),
		"reverse":  reverse(srcPages),
		"rotate":   rotate(srcPages, 7),
		"aliases":  append(append(identity(100), identity(100)...), 299, 299, 5),
	}
	shuffled := identity(srcPages)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	layouts["shuffle"] = shuffled
	limit := bufferLimit
	t.Cleanup(func() { bufferLimit = limit })
	for _, buffered := range []bool{true, false} {
		bufferLimit = func() int64 {
			if buffered {
				return size
			}
			return size - 1
		}
		for name, pages := range layouts {
			t.Run(fmt.Sprintf("%s/buffered=%v", name, buffered), func(t *testing.T) {
				runs := runsOf(pages)
				want := viewOf(content, pages)
				for _, into := range []string{"file", "pipe"} {
					src, err := os.Open(srcPath)
					if err != nil {
						t.Fatal(err)
					}
					got := copyInto(t, into, src, size, runs)
					src.Close()
					if !bytes.Equal(got, want) {
						t.Errorf("into a %s: %d bytes differ from the view's %d", into, len(got), len(want))
					}
				}
			})
		}
	}
}

// viewOf is the view of pages over content, in plain Go: whole pages, zeros past the end.
func viewOf(content []byte, pages []int64) []byte {
	out := make([]byte, int64(len(pages))*ps)
	for v, p := range pages {
		if off := p * ps; off < int64(len(content)) {
			copy(out[int64(v)*ps:int64(v+1)*ps], content[off:min(off+ps, int64(len(content)))])
		}
	}
	return out
}

func copyInto(t *testing.T, into string, src *os.File, size int64, runs []run.Run) []byte {
	t.Helper()
	if into == "file" {
		dst, err := os.Create(filepath.Join(t.TempDir(), "out"))
		if err != nil {
			t.Fatal(err)
		}
		defer dst.Close()
		if _, err := CopyRuns(dst, src, size, runs, nil); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(dst.Name())
		return b
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(r)
		done <- b
	}()
	_, err = CopyRuns(w, src, size, runs, nil)
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	return <-done
}
