package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/nlfs/nlfs/layout"
	"github.com/nlfs/nlfs/remapper"
)

// A demo mounts a fresh store in a temporary directory, fills page i with the letter 'A'+i and
// shows what layouts do, as a transcript a person could have typed. Two rules keep it honest:
//
//   - Every line after "$ " is a shell command, run as printed by bash (with this very nlfs
//     first on PATH, and the demo's directory in $d), and what follows it is what it printed.
//     So every command can be pasted and run, in the same order, in a shell of one's own.
//   - Every line after "# " is a claim about what the kernel did, and is worked out from what
//     the mount shows right then (the view's bytes, the vmas lines, the frames in map), never
//     written in advance. TestNamedDemos checks the claims against the outputs they follow.
//
// The one step that no shell command can do, writing through a mapping, is done by the demo's
// own code and said so, with the calls it makes.
type demo struct {
	name    string
	summary string // one line for --list
	explain string // what the demo shows, printed first
	pages   int64  // store pages
	// show is the demo's own part, after the mount and the letters in data.
	show func(s *session) error
}

var demos = []demo{
	{
		name:    "tlpi",
		summary: "TLPI Figure 49-5: three pages A, B, C shown as C, B, A",
		explain: "Three store pages hold A, B and C. The layout `2 1 0` maps store page 2 at\n" +
			"view page 0, page 1 at 1, page 0 at 2 (The Linux Programming Interface,\n" +
			"Figure 49-5), so reading the view gives C, B, A.",
		pages: 3,
		show: func(s *session) error {
			if err := s.layout("2 1 0"); err != nil {
				return err
			}
			if err := s.showView("view"); err != nil {
				return err
			}
			if _, err := s.run("cat $d/map", ""); err != nil {
				return err
			}
			if err := s.vmas("view"); err != nil {
				return err
			}
			if _, err := s.run("cat $d/status", ""); err != nil {
				return err
			}
			runs, vmas := s.status("view", "runs"), s.status("view", "vmas")
			if runs != vmas {
				return fmt.Errorf("demo: %s runs but %s VMAs", runs, vmas)
			}
			s.say("runs: stretches of view pages showing consecutive store pages; vmas: the kernel's VMAs",
				"over the view, one per run. An empty layout (: > $d/layout) returns to the identity.")
			return nil
		},
	},
	{
		name:    "ltp",
		summary: "LTP remap_file_pages01: a 16-page window, each pair of pages swapped, call by call",
		explain: "Like LTP's remap_file_pages01 test: a 16-page window over the store, with\n" +
			"each pair of pages swapped by one remap_file_pages call per page. The\n" +
			"layout is written as those calls (`remap VIEWPAGE NPAGES PGOFF`); `nlfs layout\n" +
			"show --steps` draws the view after each call and how the kernel's VMAs split.",
		pages: 16,
		show: func(s *session) error {
			if err := s.let("l", "mktemp -t nlfs-ltp-XXXXXX"); err != nil {
				return err
			}
			defer func() {
				s.run("rm $l", "")
			}()
			steps := []func() error{
				func() error {
					_, err := s.run(`for p in $(seq 0 15); do echo "remap $p 1 $((p ^ 1))"; done > $l`, "one call per page: view page p shows store page p xor 1")
					return err
				},
				func() error { _, err := s.run("head -n 3 $l", ""); return err },
				func() error { _, err := s.run("nlfs layout show --steps --pages 16 $l", ""); return err },
				func() error { _, err := s.run("cp $l $d/layout", ""); return err },
				func() error {
					if err := s.readLayout(""); err != nil {
						return err
					}
					s.say("the 16 calls read back as the view they leave: reading layout gives the view, not the calls")
					return nil
				},
				func() error { return s.showView("view") },
				func() error { return s.vmas("view") },
			}
			for _, step := range steps {
				if err := step(); err != nil {
					return err
				}
			}
			return nil
		},
	},
	{
		name:    "reverse",
		summary: "all pages reversed: one VMA per page; what the identity then does to them",
		explain: "Eight pages reversed (`nlfs layout gen reverse 8` = `7-0`). Since Linux 4.0\n" +
			"remap_file_pages is emulated with one VMA per run: `vmas` shows eight. Then the\n" +
			"identity is written back, and `vmas` shows what became of them.",
		pages: 8,
		show: func(s *session) error {
			if _, err := s.run("nlfs layout gen reverse 8 > $d/layout", ""); err != nil {
				return err
			}
			if err := s.readLayout(""); err != nil {
				return err
			}
			if err := s.showView("view"); err != nil {
				return err
			}
			before, err := s.vmasLines("view")
			if err != nil {
				return err
			}
			s.say(offsetsClaim(before)...)
			if err := s.layout("0-7"); err != nil {
				return err
			}
			after, err := s.vmasLines("view")
			if err != nil {
				return err
			}
			s.say(reverseClaim(before, after)...)
			_, err = s.run(`printf '7-0\nremap 0 4 0\nremap 4 4 4\n' | nlfs layout show --steps --pages 8 -`, "the same, call by call, on one mapping")
			return err
		},
	},
	{
		name:    "interleave",
		summary: "two-way interleave: even pages first, then odd ones",
		explain: "`nlfs layout gen interleave 8 2` takes every second page: 0 2 4 6, then\n" +
			"1 3 5 7 — a stride permutation, as when de-interleaving two streams.",
		pages: 8,
		show: func(s *session) error {
			if _, err := s.run("nlfs layout gen interleave 8 2 > $d/layout", ""); err != nil {
				return err
			}
			if err := s.readLayout(""); err != nil {
				return err
			}
			if err := s.showView("view"); err != nil {
				return err
			}
			_, err := s.run("grep -E '^(runs|vmas):' $d/status", "")
			return err
		},
	},
	{
		name:    "ring",
		summary: "the ring-buffer trick: the store mapped twice in a row, written through a mapping",
		explain: "The four store pages appear twice in a row (`0-3 0-3`). A record written\n" +
			"across the end of the first copy needs no wrap-around logic: its tail lands\n" +
			"in the second copy, which is the start of the store, so it also shows at\n" +
			"view page 0. Ring buffers in shared memory use this very trick, and their\n" +
			"producers write through a mapping, as this demo does.",
		pages: 4,
		show: func(s *session) error {
			if err := s.layout("0-3 0-3"); err != nil {
				return err
			}
			if err := s.showView("view"); err != nil {
				return err
			}
			if err := s.ringWrite(); err != nil {
				return err
			}
			if err := s.showView("view"); err != nil {
				return err
			}
			if err := s.showView("data"); err != nil {
				return err
			}
			return s.ringClaim()
		},
	},
	{
		name:    "alias",
		summary: "one store page at three view pages: a write shows at all three",
		explain: "Store page 0 appears at view pages 0, 1 and 2 (`0*3 1`). The view pages are\n" +
			"not copies: they are the one store page, so a write through any of them shows\n" +
			"at all of them, and in data. `map` proves it from /proc/self/pagemap (as root):\n" +
			"the three view pages have one physical frame, one page of RAM.",
		pages: 2,
		show: func(s *session) error {
			if err := s.layout("0*3 1"); err != nil {
				return err
			}
			if err := s.showView("view"); err != nil {
				return err
			}
			if err := s.writePage("view", 1, 'Z'); err != nil {
				return err
			}
			if err := s.showView("view"); err != nil {
				return err
			}
			if err := s.showView("data"); err != nil {
				return err
			}
			if _, err := s.run("grep -- '-> store 0 ' $d/map", "the view pages that show store page 0"); err != nil {
				return err
			}
			return s.frameClaim([]string{"view"}, []int64{0, 1, 2})
		},
	},
	{
		name:    "views",
		summary: "two views of one store: a write through one shows in the other, one frame behind both",
		explain: "A named view (`mkdir views/rev`) is a second mapping of the same store with a\n" +
			"layout of its own, as a second process calling remap_file_pages on the same\n" +
			"file would have. A write through one view lands in the store page, so every\n" +
			"view that shows that page shows it: the same physical frame is behind both.",
		pages: 2,
		show: func(s *session) error {
			steps := []func() error{
				func() error { _, err := s.run("mkdir $d/views/rev", "a second view of the same store"); return err },
				func() error {
					_, err := s.run("echo '1 0' > $d/views/rev/layout", "")
					return err
				},
				func() error { return s.showView("view") },
				func() error { return s.showView("views/rev/view") },
				func() error { return s.writePage("view", 0, 'Z') },
				func() error { return s.showView("views/rev/view") },
				func() error {
					_, err := s.run("grep -h -- '-> store 0 ' $d/map $d/views/rev/map", "store page 0 in each view's map")
					return err
				},
				func() error { return s.frameClaim([]string{"view", "views/rev/view"}, []int64{0, 1}) },
				func() error { _, err := s.run("rmdir $d/views/rev", ""); return err },
			}
			for _, step := range steps {
				if err := step(); err != nil {
					return err
				}
			}
			return nil
		},
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

func newDemoCmd(stdout io.Writer) *cobra.Command {
	var list, web bool
	var names []string
	for _, d := range demos {
		names = append(names, d.name)
	}
	cmd := &cobra.Command{
		Use:   "demo [NAME]",
		Short: "run a demo (default tlpi); --list names them",
		Long: "Mount a temporary store, fill page i with the letter A+i, apply a layout and show\n" +
			"what the view holds, each step as the shell command that does it (run as printed,\n" +
			"so it can be pasted), and what the kernel shows checked as it goes; unmount.",
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
			return d.run(stdout, web)
		},
	}
	switchVar(cmd.Flags(), &list, "list", "", "list the demos")
	switchVar(cmd.Flags(), &web, "web", "", "serve the live page too, and stay mounted with it until Ctrl-C")
	return cmd
}

// session is one demo's mount, its shell's environment and its output.
type session struct {
	out  io.Writer
	dir  string   // the mountpoint: $d in the commands
	env  []string // for bash: nlfs first on PATH, and the variables set so far
	page int64
	// mu guards dir, temps and shell, which the interrupt handler reads while the demo may be
	// setting them. temps are the files that mktemp made for the demo, removed however it ends;
	// shell is the command running now, killed before the mount is taken away under it (it
	// would write into the bare directory).
	mu    sync.Mutex
	temps []string
	shell *exec.Cmd
}

// start starts c as the demo's running command.
func (s *session) start(c *exec.Cmd) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shell = c
	return c.Start()
}

// done says the running command has ended.
func (s *session) done() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shell = nil
}

// run prints cmd as typed, runs it with bash and prints what it printed (stdout and stderr, as
// a terminal would show them). comment, if any, is printed after the command as a shell comment.
// A command that fails fails the demo, with what it said.
func (s *session) run(cmd, comment string) (string, error) {
	shown := cmd
	if comment != "" {
		shown += "   # " + comment
	}
	fmt.Fprintf(s.out, "$ %s\n", shown)
	c := exec.Command("bash", "-c", cmd)
	c.Env = s.env
	var buf bytes.Buffer
	c.Stdout, c.Stderr = &buf, &buf
	err := s.start(c)
	if err == nil {
		err = c.Wait()
	}
	s.done()
	out := buf.Bytes()
	s.out.Write(out)
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
		return string(out), fmt.Errorf("demo: %s: %v: %s", cmd, err, strings.TrimPrefix(msg, "nlfs: "))
	}
	return string(out), nil
}

// let sets a shell variable to what cmd prints, as `name=$(cmd)` does, and says its value.
func (s *session) let(name, cmd string) error {
	fmt.Fprintf(s.out, "$ %s=$(%s)\n", name, cmd)
	c := exec.Command("bash", "-c", cmd)
	c.Env = s.env
	c.Stderr = s.out
	out, err := c.Output()
	if err != nil {
		return fmt.Errorf("demo: %s: %w", cmd, err)
	}
	value := strings.TrimSpace(string(out))
	s.env = append(s.env, name+"="+value)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case name == "d":
		s.dir = value
	case strings.HasPrefix(cmd, "mktemp -t"):
		s.temps = append(s.temps, value)
	}
	s.say(fmt.Sprintf("%s is %s", name, value))
	return nil
}

// say prints lines of narration: what the kernel did, worked out from what the mount shows.
func (s *session) say(lines ...string) {
	for _, l := range lines {
		fmt.Fprintf(s.out, "# %s\n", l)
	}
}

func (s *session) path(name string) string { return filepath.Join(s.dir, name) }

// layout writes a one-line layout and reads it back.
func (s *session) layout(text string) error {
	if _, err := s.run(fmt.Sprintf("echo '%s' > $d/layout", text), ""); err != nil {
		return err
	}
	// bash does not report an error at close (where a layout is refused): status does.
	if st, _ := os.ReadFile(s.path("status")); !bytes.Contains(st, []byte("\nlast_error: none\n")) {
		return fmt.Errorf("demo: layout %q refused: %s", text, st)
	}
	return s.readLayout(text)
}

// readLayout shows the layout in force and, when it is not what was written (written, "" for a
// layout written by a command), says why.
func (s *session) readLayout(written string) error {
	got, err := s.run("cat $d/layout", "")
	if err != nil {
		return err
	}
	if written != "" && strings.TrimSpace(got) != written {
		s.say(fmt.Sprintf("%q reads back as %q, the same view in canonical form: each longest stretch of", written, strings.TrimSpace(got)),
			"consecutive pages (up or down) as a range, repeats written out")
	}
	return nil
}

// lettersCmd prints the first byte of each page of a file, one letter per page.
func (s *session) lettersCmd(file string) string {
	return fmt.Sprintf("fold -b -w %d $d/%s | cut -c 1 | paste -sd ' '", s.page, file)
}

// showView prints the first byte of each page of a file of the mount and, for a few pages, says
// which store page each view page shows.
func (s *session) showView(file string) error {
	comment := "the first byte of each page"
	if file == "data" {
		comment += " of the store"
	}
	if _, err := s.run(s.lettersCmd(file), comment); err != nil {
		return err
	}
	if file == "data" || !strings.HasSuffix(file, "view") {
		return nil
	}
	pages, letters, err := s.pagesOf(file)
	if err != nil || len(pages) > 4 {
		return err
	}
	var parts []string
	for v, f := range pages {
		parts = append(parts, fmt.Sprintf("view page %d shows store page %d (%c)", v, f, letters[v]))
	}
	s.say(strings.Join(parts, ", "))
	return nil
}

// pagesOf reads back a view's layout (the store page at each view page) and the first byte of
// each of its pages as the view reads now.
func (s *session) pagesOf(viewFile string) ([]int64, []byte, error) {
	text, err := os.ReadFile(filepath.Join(filepath.Dir(s.path(viewFile)), "layout"))
	if err != nil {
		return nil, nil, fmt.Errorf("demo: %w", err)
	}
	l, err := layout.Parse(text, layout.Limits{DataPages: 1 << 52})
	if err != nil {
		return nil, nil, fmt.Errorf("demo: layout in force: %w", err)
	}
	view, err := os.ReadFile(s.path(viewFile))
	if err != nil {
		return nil, nil, fmt.Errorf("demo: %w", err)
	}
	var pages []int64
	for _, r := range l.Runs {
		for i := range r.Count {
			pages = append(pages, r.File+i)
		}
	}
	var letters []byte
	for v := range pages {
		if off := int64(v) * s.page; off < int64(len(view)) {
			letters = append(letters, view[off])
		}
	}
	if len(letters) != len(pages) {
		return nil, nil, fmt.Errorf("demo: %s holds %d bytes for %d pages", viewFile, len(view), len(pages))
	}
	return pages, letters, nil
}

// vmas shows the kernel's VMAs for a view and says what their columns are.
func (s *session) vmas(viewFile string) error {
	lines, err := s.vmasLines(viewFile)
	if err != nil {
		return err
	}
	runs := s.status(viewFile, "runs")
	s.say(fmt.Sprintf("%d VMAs for %s runs; columns: address range, permissions (s: shared), offset in the", len(lines), runs),
		"file (hex; store page × 4096), device, inode and the file: the store, a memfd")
	return nil
}

// vmasLines prints the vmas file of a view and returns its lines.
func (s *session) vmasLines(viewFile string) ([]string, error) {
	rel := strings.TrimSuffix(viewFile, "view") + "vmas"
	out, err := s.run("cat $d/"+rel, "")
	if err != nil {
		return nil, err
	}
	return strings.Split(strings.TrimSuffix(out, "\n"), "\n"), nil
}

// status returns one key of a view's status file.
func (s *session) status(viewFile, key string) string {
	st, _ := os.ReadFile(s.path(strings.TrimSuffix(viewFile, "view") + "status"))
	for _, line := range strings.Split(string(st), "\n") {
		if v, ok := strings.CutPrefix(line, key+": "); ok {
			return v
		}
	}
	return "?"
}

// offsetsClaim says what the reversed view's vmas lines show: how many, and the store page each
// maps, from its file offset (the third column).
func offsetsClaim(lines []string) []string {
	var pages []string
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) < 3 {
			return []string{fmt.Sprintf("%d VMAs", len(lines))}
		}
		off, err := strconv.ParseUint(f[2], 16, 64)
		if err != nil {
			return []string{fmt.Sprintf("%d VMAs", len(lines))}
		}
		pages = append(pages, strconv.FormatUint(off/uint64(remapper.PageSize()), 10))
	}
	return []string{
		fmt.Sprintf("%d VMAs, one per page: each page is a run of its own. The third column, the file", len(lines)),
		fmt.Sprintf("offset in hex, says which store page each maps: %s.", strings.Join(pages, ", ")),
	}
}

// reverseClaim says what became of the reversed view's VMAs once the identity was written back,
// from the two vmas listings: merged in place (the same start address) or replaced by a new
// mapping elsewhere.
func reverseClaim(before, after []string) []string {
	start := func(line string) string { a, _, _ := strings.Cut(line, "-"); return a }
	switch {
	case len(after) == 1 && len(before) > 0 && start(after[0]) == start(before[0]):
		return []string{fmt.Sprintf("1 VMA now, at the same address %s: the %d were merged in place", start(after[0]), len(before))}
	case len(after) == 1:
		return []string{
			fmt.Sprintf("1 VMA now, at %s, not %s: the %d VMAs were not merged but replaced by a", start(after[0]), start(before[0]), len(before)),
			"new mapping. nlfs builds each layout beside the one in force and swaps it in (readers never",
			"see half a layout), then unmaps the old one. Within one mapping, the kernel merges a remapped",
			"range with a neighbour whose file offsets it continues:",
		}
	}
	return []string{fmt.Sprintf("%d VMAs now", len(after))}
}

// writePage writes one page of letter c at page p of a file of the mount with dd.
func (s *session) writePage(file string, p int64, c byte) error {
	seek := ""
	if p > 0 {
		seek = fmt.Sprintf(" seek=%d", p)
	}
	_, err := s.run(fmt.Sprintf("head -c %d /dev/zero | tr '\\0' %c | dd of=$d/%s bs=%d%s conv=notrunc status=none", s.page, c, file, s.page, seek),
		fmt.Sprintf("write page %d of %s only", p, file))
	return err
}

// ringWrite writes a 2-page record (a page of X, a page of Y) at view page 3 through a shared
// writable mapping of view, as a ring buffer's producer does, and says so with the calls.
func (s *session) ringWrite() error {
	pg := s.page
	s.say("A producer writes a 2-page record at view page 3, across the seam between the two copies,",
		"through a mapping, as ring buffers do. No shell command stores through a mapping, so this",
		"demo's own code makes the calls:",
		fmt.Sprintf("  fd = open(\"$d/view\", O_RDWR); p = mmap(NULL, 8 * %d, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0)", pg),
		fmt.Sprintf("  memset(p + 3 * %d, 'X', %d); memset(p + 4 * %d, 'Y', %d)", pg, pg, pg, pg),
		fmt.Sprintf("  msync(p, 8 * %d, MS_SYNC); munmap(p, 8 * %d); close(fd)", pg, pg))
	f, err := os.OpenFile(s.path("view"), os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer f.Close()
	m, err := unix.Mmap(int(f.Fd()), 0, int(8*pg), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("demo: mmap view: %w", err)
	}
	copy(m[3*pg:4*pg], bytes.Repeat([]byte{'X'}, int(pg)))
	copy(m[4*pg:5*pg], bytes.Repeat([]byte{'Y'}, int(pg)))
	err = unix.Msync(m, unix.MS_SYNC)
	if uerr := unix.Munmap(m); err == nil {
		err = uerr
	}
	if err != nil {
		return fmt.Errorf("demo: write through the mapping: %w", err)
	}
	return f.Close()
}

// ringClaim says where the record went, from the view and data as they read now.
func (s *session) ringClaim() error {
	view, err := os.ReadFile(s.path("view"))
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	data, err := os.ReadFile(s.path("data"))
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	pg := s.page
	whole := func(b []byte, c byte) bool { return len(b) == int(pg) && bytes.Count(b, []byte{c}) == int(pg) }
	if !whole(view[3*pg:4*pg], 'X') || !whole(view[4*pg:5*pg], 'Y') || !whole(data[3*pg:4*pg], 'X') || !whole(data[:pg], 'Y') || !bytes.Equal(view[:pg], view[4*pg:5*pg]) {
		return errors.New("demo: the record is not where the layout puts it")
	}
	s.say("The record's head (X) is in store page 3 and its tail (Y) in store page 0: the tail wrapped",
		"to the start of the store with no wrap-around code, and view page 0 shows it too.")
	return nil
}

var frameRow = regexp.MustCompile(`(?m)^view (\d+) -> store 0\b.*frame (0x[0-9a-f]+)`)

// frameClaim says whether the view pages given (of each view file, in order) share one physical
// frame, from the frames the views' map files list; or why the frames are not shown.
func (s *session) frameClaim(viewFiles []string, want []int64) error {
	frames := map[string]bool{}
	var where []string
	shown := 0
	for _, vf := range viewFiles {
		m, err := os.ReadFile(s.path(strings.TrimSuffix(vf, "view") + "map"))
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		if note := regexp.MustCompile(`(?m)^frames: unknown \((.*)\)$`).FindSubmatch(m); note != nil {
			s.say("The frames are not shown: "+string(note[1])+".",
				"As root, map shows the physical frame behind each view page, and these would have one.")
			return nil
		}
		var pages []string
		for _, r := range frameRow.FindAllSubmatch(m, -1) {
			frames[string(r[2])] = true
			pages = append(pages, string(r[1]))
		}
		name := "the main view"
		if vf != "view" {
			name = strings.TrimSuffix(vf, "/view")
		}
		switch len(pages) {
		case 0:
		case 1:
			where = append(where, fmt.Sprintf("view page %s of %s", pages[0], name))
		default:
			where = append(where, fmt.Sprintf("view pages %s of %s", strings.Join(pages, ", "), name))
		}
		shown += len(pages)
	}
	if shown != len(want) || len(frames) != 1 {
		return fmt.Errorf("demo: store page 0 is shown with frames %v at %v, not one frame at %d view pages", frames, where, len(want))
	}
	var frame string
	for f := range frames {
		frame = f
	}
	s.say(fmt.Sprintf("One physical frame, %s, behind %s:", frame, strings.Join(where, " and ")),
		"one page of RAM mapped at each, not copies (frames read from /proc/self/pagemap).")
	return nil
}

func (d demo) run(out io.Writer, web bool) (err error) {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("demo: find own executable: %w", err)
	}
	if _, err := exec.LookPath("bash"); err != nil {
		return fmt.Errorf("demo: the demos run their commands with bash, which is missing: %w", err)
	}
	// The commands say "nlfs": this very binary, first on PATH (go run builds it in a temporary
	// directory, and another nlfs on PATH may be older).
	bin, err := os.MkdirTemp("", "nlfs-demo-bin-")
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer os.RemoveAll(bin)
	if err := os.Symlink(exe, filepath.Join(bin, "nlfs")); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	s := &session{out: out, page: remapper.PageSize()}
	s.env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "LC_ALL=C")

	// The mount must not outlive the demo: a reader that stops early (`nlfs demo | head`) must
	// not kill it with SIGPIPE, and Ctrl-C (even while mounting) unmounts before leaving.
	signal.Ignore(syscall.SIGPIPE)
	interrupted := make(chan os.Signal, 1)
	signal.Notify(interrupted, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(interrupted)
	// With --web the demo ends by waiting for Ctrl-C: that one is the way out, not an
	// interruption.
	var waiting atomic.Bool
	stop := make(chan struct{})
	cleanup := func() {
		s.mu.Lock()
		dir, temps, shell := s.dir, s.temps, s.shell
		s.mu.Unlock()
		if shell != nil && shell.Process != nil {
			shell.Process.Kill()
		}
		for _, t := range temps {
			os.Remove(t)
		}
		if dir == "" {
			return
		}
		if _, mounted := mountAt(dir); mounted {
			if umount(dir, false) != nil {
				umount(dir, true)
			}
		}
		if _, mounted := mountAt(dir); !mounted {
			os.RemoveAll(dir) // the demo's own temporary directory
		}
	}
	go func() {
		if _, ok := <-interrupted; ok {
			if waiting.Load() {
				close(stop)
				return
			}
			cleanup()
			os.RemoveAll(bin)
			os.Exit(130)
		}
	}()

	fmt.Fprintf(out, "nlfs demo %s — %s\n\n%s\n\n", d.name, d.summary, d.explain)
	if err := s.let("d", "mktemp -d -t nlfs-demo-XXXXXX"); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			cleanup()
		}
	}()
	mount := fmt.Sprintf("nlfs mount --pages %d $d", d.pages)
	if web {
		mount = fmt.Sprintf("nlfs mount --pages %d --http 127.0.0.1:0 $d", d.pages)
	}
	if _, err := s.run(mount, ""); err != nil {
		return mountErrorf("%s", strings.TrimPrefix(err.Error(), "demo: "))
	}
	var letters []string
	for i := range d.pages {
		letters = append(letters, string(rune('A'+i%26)))
	}
	if _, err := s.run(fmt.Sprintf("for c in %s; do head -c %d /dev/zero | tr '\\0' $c; done > $d/data", strings.Join(letters, " "), s.page), ""); err != nil {
		return err
	}
	if err := d.show(s); err != nil {
		return err
	}
	if web {
		if _, err := s.run("nlfs web $d", ""); err != nil {
			return err
		}
		s.say("The demo stays mounted, its live page served at the address above: open it, and",
			"try the commands above in another shell (d="+s.dir+"). Ctrl-C unmounts.")
		waiting.Store(true)
		<-stop
	}
	if _, err := s.run("nlfs umount $d", ""); err != nil {
		return err
	}
	_, err = s.run("rmdir $d", "")
	return err
}
