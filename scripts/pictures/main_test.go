package main

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPicturesCurrent: every picture of the documentation is what the code draws now. When the
// renderers change a picture, this fails until `go run ./scripts/pictures` has drawn it again.
func TestPicturesCurrent(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range checkPictures(root) {
		t.Error(err)
	}
}

// TestPicturesCheckCatches plants each kind of stale picture in a copy of docs/ and checks that
// the check names it: a source the code no longer draws, a PNG drawn from another source, a PNG
// without its source's hash, a missing source, and a PNG no command makes.
func TestPicturesCheckCatches(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	p := pictures[0]
	for _, c := range []struct {
		name  string
		plant func(docs string)
		want  string
	}{
		{"stale source", func(docs string) {
			svg := filepath.Join(docs, p.Name+".svg")
			b, _ := os.ReadFile(svg)
			os.WriteFile(svg, bytes.Replace(b, []byte("VMA"), []byte("vma"), 1), 0o644)
		}, p.Name + ".svg is not what the code draws now"},
		{"PNG of another source", func(docs string) {
			other, _ := os.ReadFile(filepath.Join(docs, pictures[1].Name+".png"))
			os.WriteFile(filepath.Join(docs, p.Name+".png"), other, 0o644)
		}, p.Name + ".png was not drawn from"},
		{"PNG without its hash", func(docs string) {
			png, _ := os.ReadFile(filepath.Join(docs, p.Name+".png"))
			i := bytes.Index(png, []byte(sourceKey))
			png[i] = 'N' // another keyword: no hash of the source
			os.WriteFile(filepath.Join(docs, p.Name+".png"), png, 0o644)
		}, p.Name + ".png was not drawn from"},
		{"missing source", func(docs string) { os.Remove(filepath.Join(docs, p.Name+".svg")) }, p.Name + ".svg: "},
		{"a PNG made by hand", func(docs string) {
			os.WriteFile(filepath.Join(docs, "drawn-by-hand.png"), []byte("\x89PNG"), 0o644)
		}, "drawn-by-hand.png is made by no command"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			docs := filepath.Join(dir, "docs")
			os.Mkdir(docs, 0o755)
			files, _ := filepath.Glob(filepath.Join(root, "docs", "*.*"))
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				os.WriteFile(filepath.Join(docs, filepath.Base(f)), b, 0o644)
			}
			if errs := checkPictures(dir); len(errs) != 0 {
				t.Fatalf("the copy is not current before planting: %v", errs)
			}
			c.plant(docs)
			errs := checkPictures(dir)
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), c.want) {
				t.Errorf("after planting: %v; want one error saying %q", errs, c.want)
			}
		})
	}
}

// TestPNGSourceChunk: the hash written into a PNG reads back, the PNG still decodes, and a PNG
// without one has none.
func TestPNGSourceChunk(t *testing.T) {
	var plain bytes.Buffer
	if err := png.Encode(&plain, image.NewGray(image.Rect(0, 0, 3, 2))); err != nil {
		t.Fatal(err)
	}
	if h, ok := sourceOf(plain.Bytes()); ok {
		t.Errorf("a plain PNG has the source hash %q", h)
	}
	marked, err := withSource(plain.Bytes(), []byte("<svg/>"))
	if err != nil {
		t.Fatal(err)
	}
	if h, ok := sourceOf(marked); !ok || h != sourceHash([]byte("<svg/>")) {
		t.Errorf("hash read back %q, %v", h, ok)
	}
	if img, err := png.Decode(bytes.NewReader(marked)); err != nil || img.Bounds().Dx() != 3 {
		t.Errorf("the marked PNG does not decode: %v", err)
	}
	if _, err := withSource([]byte("not a png"), nil); err == nil {
		t.Error("withSource took a non-PNG")
	}
}
