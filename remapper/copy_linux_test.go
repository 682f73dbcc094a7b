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
// (copied by the kernel), aliases, and a source that ends inside its last page; gathered by
// process_vm_readv, and by writev where that is refused.
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
	// More pieces than one flush takes (IOV_MAX), more bytes than its buffer, and pieces that
	// continue each other (short runs of 50 pages, merged into one piece and cut where the
	// buffer ends).
	layouts["chunks"] = append(append(append(identity(srcPages), identity(srcPages)...), identity(srcPages)...), identity(srcPages)...)
	layouts["many"] = append(append(append(shuffled, reverse(srcPages)...), shuffled...), shuffled...)
	t.Cleanup(func() { useReadv = true })
	for _, readv := range []bool{true, false} {
		useReadv = readv
		for name, pages := range layouts {
			t.Run(fmt.Sprintf("%s/readv=%v", name, readv), func(t *testing.T) {
				runs := runsOf(pages)
				if name == "chunks" {
					runs = cut(runs, 50)
				}
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

// cut splits runs into runs of at most n pages.
func cut(runs []run.Run, n int64) []run.Run {
	var out []run.Run
	for _, r := range runs {
		for r.Count > n {
			out = append(out, run.Run{View: r.View, File: r.File, Count: n})
			r.View, r.File, r.Count = r.View+n, r.File+n, r.Count-n
		}
		out = append(out, r)
	}
	return out
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

// TestCopyRunsReadv: the gathering really goes through process_vm_readv here (it is refused
// only by seccomp filters, where the writev path above serves).
func TestCopyRunsReadv(t *testing.T) {
	out, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	src := []byte("0123456789")
	c := copier{dst: int(out.Fd()), readv: true}
	c.gather(src[5:])
	c.gather(zeros[:3])
	c.gather(src[:5])
	if err := c.flushReadv(); err != nil {
		t.Fatalf("process_vm_readv: %v", err)
	}
	if err := c.drain(); err != nil {
		t.Fatal(err)
	}
	c.stopWriter()
	if got, _ := os.ReadFile(out.Name()); string(got) != "56789\x00\x00\x0001234" {
		t.Errorf("wrote %q", got)
	}
}
