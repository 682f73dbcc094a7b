// Package refs holds one test: that every file the repository's comments and documents name is
// in the repository, so that a newcomer with a clone finds what they point at.
//
// A name is checked if it looks like a file of this repository: anything ending in .go, .md or
// .sh, and any path whose first part is a top-level entry of the repository (docs/..., fs/...,
// .ci/...). It is looked for beside the file that names it, then from the repository's root,
// and must not lead out of it. Not checked: addresses (https://...), import paths and other
// names that start with a host (github.com/hanwen/go-fuse/v2/fs/api.go: a public reference, as
// a man page is), absolute paths of the system (/proc/self/maps, /dev/fuse) unless they name a
// .go or .md file, and the kernel's sources (fs/fuse/dev.c).
package refs

import (
	"go/scanner"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// pathChars is a maximal run of the characters a path is written with.
var pathChars = regexp.MustCompile(`[A-Za-z0-9_.$~/#:-]+`)

// placeholder is a path with a part to fill in, written in capitals (docs/NAME, views/NAME/).
var placeholder = regexp.MustCompile(`(^|/)[A-Z][A-Z_]*(/|$)`)

// checkedExt are the extensions of names checked wherever they stand.
var checkedExt = []string{".go", ".md", ".sh"}

// text returns what of file may name files: a Go file's comments, a shell script's comment
// lines, anything else whole.
func text(path string, src []byte) string {
	switch {
	case strings.HasSuffix(path, ".go"):
		var s scanner.Scanner
		fset := token.NewFileSet()
		s.Init(fset.AddFile(path, -1, len(src)), src, nil, scanner.ScanComments)
		var b strings.Builder
		for {
			_, tok, lit := s.Scan()
			if tok == token.EOF {
				return b.String()
			}
			if tok == token.COMMENT {
				b.WriteString(lit)
				b.WriteByte('\n')
			}
		}
	case strings.HasSuffix(path, ".sh") || filepath.Base(filepath.Dir(path)) == ".ci":
		var b strings.Builder
		for _, line := range strings.Split(string(src), "\n") {
			if t := strings.TrimSpace(line); strings.HasPrefix(t, "#") {
				b.WriteString(t)
				b.WriteByte('\n')
			}
		}
		return b.String()
	}
	return string(src)
}

// badRefs returns the names in txt, from the file at path, of files that are not in the
// repository at root.
func badRefs(root, path, txt string) []string {
	top := map[string]bool{}
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		if e.Name() != ".git" {
			top[e.Name()] = true
		}
	}
	var bad []string
	for _, name := range pathChars.FindAllString(txt, -1) {
		if strings.Contains(name, "://") || strings.HasPrefix(name, "$") || strings.HasPrefix(name, "~") {
			continue
		}
		name, _, _ = strings.Cut(name, "#") // an anchor
		name = strings.TrimRight(name, ".:")
		name = strings.TrimPrefix(name, ":")
		ext := filepath.Ext(name)
		first, _, hasDir := strings.Cut(strings.TrimPrefix(name, "./"), "/")
		switch {
		case name == ext || name == "/" || ext == ".c" || ext == ".h":
			continue // no name (an extension alone, as in *.md), or a C source
		case strings.HasPrefix(name, "/"):
			if ext != ".go" && ext != ".md" {
				continue // a path of the system
			}
		case hasDir && strings.Contains(first, ".") && first != ".ci" && first != "..":
			continue // a host: an import path or an address without its scheme
		case !contains(checkedExt, ext) && !(hasDir && top[first]):
			continue
		case placeholder.MatchString(name):
			continue // docs/NAME: a name to fill in
		}
		if !inRepo(root, filepath.Dir(path), name) {
			bad = append(bad, name)
		}
	}
	return bad
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// inRepo reports whether name, as written in a file of dir, is a file or directory of the
// repository at root: beside the file, or from the root.
func inRepo(root, dir, name string) bool {
	if filepath.IsAbs(name) {
		return false
	}
	for _, base := range []string{dir, root} {
		p := filepath.Join(base, name)
		if rel, err := filepath.Rel(root, p); err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	return false
}

// TestFileReferences: no comment, document, script comment or page of the repository names a
// file that is not in it.
func TestFileReferences(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	files := 0
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" || d.Name() == "testdata" {
				return filepath.SkipDir // the history; fuzz corpora and golden outputs
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".go", ".md", ".sh", ".1", ".html", ".js", ".css":
		default:
			if filepath.Base(filepath.Dir(path)) != ".ci" {
				return nil
			}
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		rel, _ := filepath.Rel(root, path)
		for _, name := range badRefs(root, path, text(path, src)) {
			t.Errorf("%s names %s, which is not in the repository", rel, name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 100 {
		t.Errorf("looked at %d files: the walk misses the repository", files)
	}
}

// TestFileReferencesCatch: the check finds each kind of reference to a file outside the
// repository, and passes the names that are not such references.
func TestFileReferencesCatch(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		in, text string
		bad      []string
	}{
		{"fs/cache.go", "both hang for good (KERNEL.md has the stacks)", []string{"KERNEL.md"}},
		{"engine/engine.go", "(DESIGN: names) written from DESIGN.md.", []string{"DESIGN.md"}},
		{"README.md", "see [design](../shared/DESIGN.md)", []string{"../shared/DESIGN.md"}},
		{"README.md", "read /work/shared/KERNEL.md first", []string{"/work/shared/KERNEL.md"}},
		{"README.md", "notes in /work/shared/notes/go-fuse.md", []string{"/work/shared/notes/go-fuse.md"}},
		{"fs/mount_test.go", "clients live apart (see client.go):", []string{"client.go"}},
		{"fs/fs.go", "the rule is in fs/nosuch.go and docs/nosuch.md#x", []string{"fs/nosuch.go", "docs/nosuch.md"}},
		{"web/page.go", "scripts/nosuch.sh draws them; internal/nosuch too", []string{"scripts/nosuch.sh", "internal/nosuch"}},
		{"fs/fs.go", "see engine/engine.go, docs/kernel.md#the-vma-limit and ./README.md.", nil},
		{"remapper/remapper.go", "store_linux.go (the store), kernel_linux.go", nil},
		{"engine/engine.go", "store_linux.go (the store)", []string{"store_linux.go"}},
		{"fs/fs.go", "go-fuse's github.com/hanwen/go-fuse/v2/fs/api.go, https://man7.org/x/y.md", nil},
		{"docs/kernel.md", "`fs/fuse/dev.c`, `mm/filemap.c`, /proc/self/maps, /dev/fuse, /run/nlfs/", nil},
		{"README.md", "cat map.svg status.json; $XDG_RUNTIME_DIR/nlfs/; man -l docs/nlfs.1; docs/*.md", nil},
		{"web/page.go", "keeps it as docs/NAME, beside docs/NOSUCH.md", []string{"docs/NOSUCH.md"}},
	} {
		got := badRefs(root, filepath.Join(root, c.in), c.text)
		if strings.Join(got, " ") != strings.Join(c.bad, " ") {
			t.Errorf("%s: %q: bad %q, want %q", c.in, c.text, got, c.bad)
		}
	}
}
