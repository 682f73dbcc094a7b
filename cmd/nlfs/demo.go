package main

// The demo catalogue: what each demo shows, and the command that runs one.

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
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
			s.say("runs: stretches of view pages showing store pages ascending by one; vmas: the kernel's",
				"VMAs over the view, one per run. An empty layout (: > $d/layout) returns to the identity.")
			before, ptes := s.status("view", "vmas_before_linux_4_0"), s.status("view", "pte_offsets_before_linux_4_0")
			s.say(fmt.Sprintf("Before Linux 4.0 the same view cost %s VMA, made nonlinear, with %s file PTEs: the", before, ptes),
				"page-table entries of the pages away from their linear place (store page N at view",
				fmt.Sprintf("page N) held their file offsets. Since 4.0 it costs %s VMAs, one per run (map draws both).", s.status("view", "vmas_since_linux_4_0")))
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
					_, err := s.run("(cd $d && grep -- '-> store 0 ' map views/rev/map)", "store page 0 in each view's map, named by its file")
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
