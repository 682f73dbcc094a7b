package main

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/nlfs/nlfs/layout"
	"github.com/nlfs/nlfs/remapper"

	"github.com/nlfs/nlfs/run"
)

// A demo mounts a fresh store in a temporary directory, fills page i with
// the letter 'A'+i, applies a layout and shows what the view then holds.
// Each step is printed as the command a person would type, so a demo
// doubles as a tutorial.
type demo struct {
	name    string
	summary string // one line for --list
	explain string // what the demo shows, printed first
	pages   int64  // store pages
	layout  string
	// then, if set, runs the demo's own steps after the layout is shown.
	then func(s *session) error
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
	{
		name:    "ltp",
		summary: "LTP remap_file_pages01: a 16-page window, each pair of pages swapped",
		explain: "Like LTP's remap_file_pages01 test: a 16-page window over the store, with\n" +
			"each pair of pages swapped by one remap_file_pages call per page. The\n" +
			"layout is written as those calls: `remap VIEWPAGE NPAGES PGOFF`.",
		pages:  16,
		layout: ltpLayout(),
		then:   func(s *session) error { return s.cat("vmas") },
	},
	{
		name:    "reverse",
		summary: "all pages reversed: one VMA per page, merged back by the identity",
		explain: "Eight pages reversed (`nlfs layout gen reverse 8` = `7-0`). Since Linux 4.0\n" +
			"remap_file_pages is emulated with one VMA per run: `vmas` shows eight.\n" +
			"Writing the identity back merges them into one.",
		pages:  8,
		layout: "7-0",
		then: func(s *session) error {
			if err := s.cat("vmas"); err != nil {
				return err
			}
			if err := s.write("layout", "0-7\n"); err != nil {
				return err
			}
			return s.cat("vmas")
		},
	},
	{
		name:    "interleave",
		summary: "two-way interleave: even pages first, then odd ones",
		explain: "`nlfs layout gen interleave 8 2` takes every second page: 0 2 4 6, then\n" +
			"1 3 5 7 — a stride permutation, as when de-interleaving two streams.",
		pages:  8,
		layout: "0 2 4 6 1 3 5 7", // what `nlfs layout gen interleave 8 2` prints
	},
	{
		name:    "ring",
		summary: "the ring-buffer trick: the store mapped twice in a row",
		explain: "The four store pages appear twice in a row (`0-3 0-3`). A record written\n" +
			"across the end of the first copy needs no wrap-around logic: its tail lands\n" +
			"in the second copy, which is the start of the store, so it also shows at\n" +
			"view page 0. Ring buffers in shared memory use this very trick.",
		pages:  4,
		layout: "0-3 0-3",
		then: func(s *session) error {
			// Two pages, X then Y, written at view page 3: across the seam.
			rec := append(bytes.Repeat([]byte("X"), int(s.page)), bytes.Repeat([]byte("Y"), int(s.page))...)
			s.step("printf X…Y… | dd of=%s bs=%d seek=3 conv=notrunc  # a 2-page record across the seam", s.path("view"), s.page)
			if err := s.pwrite("view", rec, 3*s.page); err != nil {
				return err
			}
			return s.showView()
		},
	},
	{
		name:    "alias",
		summary: "one store page at three view pages: a write shows at all three",
		explain: "Store page 0 appears at view pages 0, 1 and 2 (`0*3 1`). The view pages are\n" +
			"not copies: they share one physical frame, so a write through any of them\n" +
			"shows at all of them, and in data. `map` proves it from /proc/self/pagemap\n" +
			"(as root): the three view pages have one frame number.",
		pages:  2,
		layout: "0*3 1",
		then: func(s *session) error {
			s.step("printf Z… | dd of=%s bs=%d seek=1 conv=notrunc  # write view page 1 only", s.path("view"), s.page)
			if err := s.pwrite("view", bytes.Repeat([]byte("Z"), int(s.page)), s.page); err != nil {
				return err
			}
			if err := s.showView(); err != nil {
				return err
			}
			s.step("head -c 16 %s; echo", s.path("data"))
			data, err := os.ReadFile(s.path("data"))
			if err != nil {
				return err
			}
			fmt.Fprintf(s.out, "%s\n", data[:16])
			return nil
		},
	},
}

// ltpLayout swaps each pair of pages of a 16-page window, one remap call
// per page, as LTP's remap_file_pages01 does.
func ltpLayout() string {
	var b strings.Builder
	for p := 0; p < 16; p++ {
		fmt.Fprintf(&b, "remap %d 1 %d\n", p, p^1)
	}
	return b.String()
}

func findDemo(name string) (demo, bool) {
	for _, d := range demos {
		if d.name == name {
			return d, true
		}
	}
	return demo{}, false
}

func newDemoCmd(stdout io.Writer) *cobra.Command {
	var list bool
	var names []string
	for _, d := range demos {
		names = append(names, d.name)
	}
	cmd := &cobra.Command{
		Use:         "demo [NAME]",
		Short:       "run a demo (default tlpi); --list names them",
		Long:        "Mount a temporary store, fill page i with the letter A+i, apply a layout and show\nwhat the view holds, each step as the command a person would type; unmount.",
		Annotations: map[string]string{"or": "nlfs demo --list"},
		ValidArgs:   names,
		RunE: func(cmd *cobra.Command, args []string) error {
			if list {
				for _, d := range demos {
					fmt.Fprintf(stdout, "%-12s %s\n", d.name, d.summary)
				}
				return nil
			}
			name := "tlpi"
			if len(args) > 0 {
				name = args[0]
			}
			if len(args) > 1 {
				return usageErrorf("demo: one demo at a time (got %s)", strings.Join(args, " "))
			}
			d, ok := findDemo(name)
			if !ok {
				return usageErrorf("demo: no demo named %q (nlfs demo --list names them)", name)
			}
			return d.run(stdout)
		},
	}
	switchVar(cmd.Flags(), &list, "list", "", "list the demos")
	return cmd
}

// session is one demo's mount and its output.
type session struct {
	out  io.Writer
	dir  string
	page int64
}

func (s *session) step(format string, a ...any) { fmt.Fprintf(s.out, "$ "+format+"\n", a...) }

func (s *session) path(name string) string { return filepath.Join(s.dir, name) }

func (s *session) write(name, text string) error {
	s.step("printf %q > %s", text, s.path(name))
	if err := os.WriteFile(s.path(name), []byte(text), 0o644); err != nil {
		return fmt.Errorf("demo: write %s: %w", name, err)
	}
	return nil
}

func (s *session) pwrite(name string, b []byte, off int64) error {
	f, err := os.OpenFile(s.path(name), os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if _, err := f.WriteAt(b, off); err != nil {
		f.Close()
		return fmt.Errorf("demo: write %s: %w", name, err)
	}
	return f.Close()
}

func (s *session) cat(name string) error {
	s.step("cat %s", s.path(name))
	b, err := os.ReadFile(s.path(name))
	if err != nil {
		return fmt.Errorf("demo: read %s: %w", name, err)
	}
	_, err = s.out.Write(b)
	return err
}

// showView prints the view page by page: a line per page for small views,
// one letter per page otherwise.
func (s *session) showView() error {
	s.step("dd if=%s bs=%d  # the view, page by page", s.path("view"), s.page)
	view, err := os.ReadFile(s.path("view"))
	if err != nil {
		return fmt.Errorf("demo: read view: %w", err)
	}
	pages := int((int64(len(view)) + s.page - 1) / s.page)
	pageAt := func(i int) []byte { return view[int64(i)*s.page : min(int64(i+1)*s.page, int64(len(view)))] }
	if pages <= 4 {
		shows, err := s.storePages()
		if err != nil {
			return err
		}
		for i := range pages {
			fmt.Fprintf(s.out, "  view page %d: %s  (store page %d)\n", i, describePage(pageAt(i)), shows[i])
		}
		return nil
	}
	var letters strings.Builder
	for i := range pages {
		p := pageAt(i)
		if bytes.Count(p, p[:1]) == len(p) && p[0] > ' ' && p[0] <= '~' {
			letters.WriteByte(p[0])
		} else {
			letters.WriteByte('?')
		}
		letters.WriteByte(' ')
	}
	fmt.Fprintf(s.out, "  view pages 0-%d: %s (a letter per page; store page 0 holds A, 1 B, …)\n", pages-1, strings.TrimSpace(letters.String()))
	return nil
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
	s := &session{out: out, dir: dir, page: remapper.PageSize()}

	// The mount must not outlive the demo: a reader that stops early
	// (`nlfs demo | head`) must not kill it with SIGPIPE, and Ctrl-C
	// (even while mounting) unmounts before leaving.
	signal.Ignore(syscall.SIGPIPE)
	interrupted := make(chan os.Signal, 1)
	signal.Notify(interrupted, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(interrupted)
	go func() {
		if _, ok := <-interrupted; ok {
			if _, mounted := mountAt(dir); mounted {
				umount(dir, true)
			}
			os.Remove(dir)
			os.Exit(130)
		}
	}()

	fmt.Fprintf(out, "nlfs demo %s — %s\n\n%s\n\n", d.name, d.summary, d.explain)
	s.step("nlfs mount --pages %d %s", d.pages, dir)
	mount := exec.Command(exe, "mount", "--pages", fmt.Sprint(d.pages), dir)
	var mountErr bytes.Buffer
	mount.Stderr = &mountErr
	if err := mount.Run(); err != nil {
		return mountErrorf("demo: %s", strings.TrimPrefix(strings.TrimSpace(mountErr.String()), "nlfs: "))
	}
	defer func() {
		s.step("nlfs umount %s", dir)
		if uerr := umount(dir, false); uerr != nil && err == nil {
			err = uerr
		}
	}()

	var store []byte
	var letters []string
	for i := range d.pages {
		letter := byte('A' + i%26)
		store = append(store, bytes.Repeat([]byte{letter}, int(s.page))...)
		letters = append(letters, string(letter))
	}
	s.step("for c in %s; do head -c %d /dev/zero | tr '\\0' $c; done > %s", strings.Join(letters, " "), s.page, s.path("data"))
	if err := os.WriteFile(s.path("data"), store, 0o644); err != nil {
		return fmt.Errorf("demo: write data: %w", err)
	}
	if strings.Contains(d.layout, "\n") {
		s.step("cat > %s <<EOF\n%sEOF", s.path("layout"), d.layout)
		if err := os.WriteFile(s.path("layout"), []byte(d.layout), 0o644); err != nil {
			return fmt.Errorf("demo: write layout: %w", err)
		}
	} else {
		s.step("echo '%s' > %s", d.layout, s.path("layout"))
		if err := os.WriteFile(s.path("layout"), []byte(d.layout+"\n"), 0o644); err != nil {
			return fmt.Errorf("demo: write layout: %w", err)
		}
	}
	if err := s.cat("layout"); err != nil {
		return err
	}
	if err := s.showView(); err != nil {
		return err
	}
	if err := s.cat("map"); err != nil {
		return err
	}
	if d.then != nil {
		if err := d.then(s); err != nil {
			return err
		}
	}
	return s.cat("status")
}

// storePages reads back the layout in force: the store page at each view page.
func (s *session) storePages() ([]int64, error) {
	text, err := os.ReadFile(s.path("layout"))
	if err != nil {
		return nil, fmt.Errorf("demo: read layout: %w", err)
	}
	l, err := layout.Parse(text, layout.Limits{DataPages: math.MaxInt64})
	if err != nil {
		return nil, fmt.Errorf("demo: layout in force: %w", err)
	}
	return run.Pages(l.Runs), nil
}

// describePage shows a page compactly: its first bytes, and how it is
// made when it is one byte repeated.
func describePage(p []byte) string {
	head := p[:min(len(p), 16)]
	s := strings.Map(func(r rune) rune {
		if r < ' ' || r > '~' {
			return '.'
		}
		return r
	}, string(head))
	if len(p) > 0 && bytes.Count(p, p[:1]) == len(p) {
		return fmt.Sprintf("%s…  %d × %q", s, len(p), p[0])
	}
	return s + "…"
}
