package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/nlfs/nlfs/remapper"
)

// A demo mounts a fresh store in a temporary directory, fills it, applies a
// layout and shows what the view then holds. Each step is printed as the
// command a person would type, so a demo doubles as a tutorial.
type demo struct {
	name    string
	summary string // one line for --list
	explain string // what the demo shows, printed first
	pages   int64  // store pages; page i is filled with letter 'A'+i
	layout  string
}

var demos = []demo{
	{
		name:    "tlpi",
		summary: "TLPI Figure 49-5: three pages A, B, C shown as C, B, A",
		explain: "Three store pages hold A, B and C. The layout `2 1 0` maps store page 2 at\n" +
			"view page 0, page 1 at 1, page 0 at 2 (The Linux Programming Interface,\n" +
			"Figure 49-5), so reading the view gives C, B, A.",
		pages:  3,
		layout: "2 1 0",
	},
}

func findDemo(name string) (demo, bool) {
	for _, d := range demos {
		if d.name == name {
			return d, true
		}
	}
	return demo{}, false
}

func demoCmd(args []string, stdout io.Writer) error {
	fset := newFlagSet("demo", "[--list] [NAME]")
	list := fset.Bool("list", false, "list the demos")
	pos, err := parseArgs(fset, args)
	if err != nil {
		return err
	}
	if *list {
		for _, d := range demos {
			fmt.Fprintf(stdout, "%-12s %s\n", d.name, d.summary)
		}
		return nil
	}
	name := "tlpi"
	if len(pos) > 0 {
		name = pos[0]
	}
	if len(pos) > 1 {
		return usageErrorf("demo: one demo at a time (got %s)", strings.Join(pos, " "))
	}
	d, ok := findDemo(name)
	if !ok {
		return usageErrorf("demo: no demo named %q (nlfs demo --list names them)", name)
	}
	return d.run(stdout)
}

func (d demo) run(out io.Writer) (err error) {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("demo: find own executable: %w", err)
	}
	dir, err := os.MkdirTemp("", "nlfs-demo-")
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer os.Remove(dir)

	fmt.Fprintf(out, "nlfs demo %s — %s\n\n%s\n\n", d.name, d.summary, d.explain)
	step := func(format string, a ...any) { fmt.Fprintf(out, "$ "+format+"\n", a...) }

	step("nlfs mount --pages %d %s", d.pages, dir)
	mount := exec.Command(exe, "mount", "--pages", fmt.Sprint(d.pages), dir)
	mount.Stdout = io.Discard
	var mountErr bytes.Buffer
	mount.Stderr = &mountErr
	if err := mount.Run(); err != nil {
		return &exitError{exitMount, "demo: " + strings.TrimPrefix(strings.TrimSpace(mountErr.String()), "nlfs: ")}
	}
	defer func() {
		step("nlfs umount %s", dir)
		if uerr := umountCmd([]string{dir}); uerr != nil && err == nil {
			err = uerr
		}
	}()

	page := remapper.PageSize()
	var store []byte
	var letters []string
	for i := int64(0); i < d.pages; i++ {
		letter := byte('A' + i%26)
		store = append(store, bytes.Repeat([]byte{letter}, int(page))...)
		letters = append(letters, fmt.Sprintf("%c", letter))
	}
	step("for c in %s; do head -c %d /dev/zero | tr '\\0' $c; done > %s", strings.Join(letters, " "), page, filepath.Join(dir, "data"))
	if err := os.WriteFile(filepath.Join(dir, "data"), store, 0o644); err != nil {
		return fmt.Errorf("demo: write data: %w", err)
	}
	step("echo '%s' > %s", d.layout, filepath.Join(dir, "layout"))
	if err := os.WriteFile(filepath.Join(dir, "layout"), []byte(d.layout+"\n"), 0o644); err != nil {
		return fmt.Errorf("demo: write layout: %w", err)
	}
	for _, name := range []string{"layout"} {
		if err := showFile(out, step, dir, name); err != nil {
			return err
		}
	}
	step("dd if=%s bs=%d  # the view, page by page", filepath.Join(dir, "view"), page)
	view, err := os.ReadFile(filepath.Join(dir, "view"))
	if err != nil {
		return fmt.Errorf("demo: read view: %w", err)
	}
	for i := 0; int64(i)*page < int64(len(view)); i++ {
		p := view[int64(i)*page : min(int64(i+1)*page, int64(len(view)))]
		fmt.Fprintf(out, "  view page %d: %s\n", i, describePage(p))
	}
	for _, name := range []string{"map", "status"} {
		if err := showFile(out, step, dir, name); err != nil {
			return err
		}
	}
	return nil
}

func showFile(out io.Writer, step func(string, ...any), dir, name string) error {
	step("cat %s", filepath.Join(dir, name))
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return fmt.Errorf("demo: read %s: %w", name, err)
	}
	_, err = out.Write(b)
	return err
}

// describePage shows a page compactly: its first bytes, and which store
// page it is when the page is one letter repeated (store page 0 is A).
func describePage(p []byte) string {
	head := p[:min(len(p), 16)]
	s := strings.Map(func(r rune) rune {
		if r < ' ' || r > '~' {
			return '.'
		}
		return r
	}, string(head))
	if len(p) > 0 && bytes.Count(p, p[:1]) == len(p) && p[0] >= 'A' && p[0] <= 'Z' {
		return fmt.Sprintf("%s…  (%d × %q: store page %d)", s, len(p), p[0], p[0]-'A')
	}
	return s + "…"
}
