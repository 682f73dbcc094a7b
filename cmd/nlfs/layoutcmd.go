package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nlfs/nlfs/layout"
	"github.com/nlfs/nlfs/layout/render"
)

func newLayoutCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "layout COMMAND [ARG]...",
		Short: "check, format, generate or draw a layout",
		Long:  "Work on layouts without mounting: check, canonicalize, draw or generate one.",
		// Without a subcommand, or with an unknown one, it is refused as
		// a usage error rather than answered with help.
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("layout: want check, fmt, show or gen (see nlfs layout --help)")
			}
			return usageErrorf("layout: unknown subcommand %q (want check, fmt, show or gen)", args[0])
		},
	}
	for _, sub := range []struct{ name, short string }{
		{"check", "check a layout: say ok, or where it is wrong"},
		{"fmt", "print a layout in canonical form"},
		{"show", "draw a layout as map does (--svg: as map.svg; --steps: after each remap call)"},
	} {
		cmd.AddCommand(newLayoutFileCmd(sub.name, sub.short, stdout))
	}
	cmd.AddCommand(newLayoutGenCmd(stdout))
	return cmd
}

// drawing is how `nlfs layout show` draws: as text or SVG, whole or step by step.
type drawing struct{ svg, steps bool }

// newLayoutFileCmd reads one layout and checks, formats or draws it.
func newLayoutFileCmd(sub, short string, stdout io.Writer) *cobra.Command {
	var pages, maxView int64
	var how drawing
	long := strings.ToUpper(short[:1]) + short[1:] + ". FILE - is standard input."
	if sub == "show" {
		long = "Draw a layout as the map file does, or as map.svg with --svg. With --steps, draw the view\n" +
			"after each remap line, as successive remap_file_pages calls on one mapping leave it, how\n" +
			"its VMAs split and merge (one VMA per run), and what each call did before Linux 4.0; a\n" +
			"page list alone is drawn as the calls that build it (the store mapped in order, then one\n" +
			"call per run not in place). FILE - is standard input."
	}
	cmd := &cobra.Command{
		Use:   sub + " [OPTION]... FILE",
		Short: short,
		Long:  long,
		Args:  wantArgs("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("pages") {
				pages = -1 // no store to check against
			}
			return layoutFile(sub, args[0], pages, maxView, how, stdout)
		},
	}
	if sub == "show" {
		cmd.Example = "  printf '0-5\\nremap 0 2 4\\n' | nlfs layout show --steps --pages 6 -"
	}
	int64Var(cmd.Flags(), &pages, "pages", 0, "check against a store of `N` pages (default: no limit)")
	maxViewPagesFlag(cmd.Flags(), &maxView)
	if sub == "show" {
		switchVar(cmd.Flags(), &how.steps, "steps", "", "draw the view after each remap call (of a page list: the calls that build it), with its VMAs")
		switchVar(cmd.Flags(), &how.svg, "svg", "", "draw an SVG picture, as map.svg")
	}
	return cmd
}

func layoutFile(sub, name string, pages, maxView int64, how drawing, stdout io.Writer) error {
	text, err := readInput(name)
	if err != nil {
		return usageErrorf("layout %s: %v", sub, err)
	}
	lim := layout.Limits{DataPages: pages, MaxViewPages: maxView}
	if pages < 0 {
		lim.DataPages = math.MaxInt64
		if layout.RemapOnly(text, lim) && sub != "check" {
			// Remap lines alone apply to the identity over the store: without its size there
			// is no view to draw (and Parse would say the view is over the maximum).
			return usageErrorf("layout %s: %s has remap lines and no page list: they apply to the identity view over the store, so give its size with --pages N", sub, quote(name))
		}
	}
	if how.steps {
		return layoutSteps(name, text, lim, how, stdout)
	}
	l, err := layout.Parse(text, lim)
	if err != nil {
		var lerr *layout.Error
		if errors.As(err, &lerr) {
			return fmt.Errorf("%s: %w", quote(name), lerr)
		}
		return err
	}
	if l.Identity && pages < 0 {
		switch sub {
		case "check":
			fmt.Fprintf(stdout, "%s: ok: no entries, the identity view that follows the store\n", quote(name))
			return nil
		case "fmt":
			_, err = stdout.Write(layout.IdentityText(-1))
			return err
		}
		return usageErrorf("layout %s: %s has no entries (the identity): give --pages N to draw it", sub, quote(name))
	}
	runs := l.ViewRuns()
	switch sub {
	case "check":
		fmt.Fprintf(stdout, "%s: ok: %d view pages in %d runs\n", quote(name), l.Pages, len(runs))
	case "fmt":
		// As reading the layout file gives it: the identity as the comment that says so.
		text := layout.AppendCanonical(nil, runs)
		if l.Identity {
			text = layout.IdentityText(l.Pages)
		}
		_, err = stdout.Write(text)
	case "show":
		info := render.Info{DataPages: lim.DataPages, VMAs: -1}
		if how.svg {
			err = render.SVG(stdout, runs, info)
		} else {
			err = render.Text(stdout, runs, info)
		}
	}
	return err
}

// layoutSteps draws a layout step by step: the view its remap lines start from, then the view
// after each.
func layoutSteps(name string, text []byte, lim layout.Limits, how drawing, stdout io.Writer) error {
	_, steps, err := layout.Steps(text, lim)
	if err != nil {
		var lerr *layout.Error
		if errors.As(err, &lerr) {
			return fmt.Errorf("%s: %w", quote(name), lerr)
		}
		return err
	}
	if len(steps) == 1 && len(steps[0].Runs) == 0 {
		return usageErrorf("layout show: %s has no entries (the identity): give --pages N to draw it", quote(name))
	}
	info := render.Info{DataPages: lim.DataPages, VMAs: -1}
	if how.svg {
		return render.StepsSVG(stdout, steps, info)
	}
	return render.StepsText(stdout, steps, info)
}

func newLayoutGenCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "gen NAME ARG...",
		Short: "generate a layout: " + strings.Join(generators(), ", "),
		Long: "Print a generated layout in canonical form. Generators:\n  " +
			strings.Join(layout.GeneratorNames(), "\n  "),
		Example: "  nlfs layout gen interleave 8 2",
		// gen takes no flags: its arguments are numbers, negative ones
		// included (which the generator then refuses by name).
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
				return cmd.Help()
			}
			return layoutGen(args, stdout)
		},
		ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return generators(), cobra.ShellCompDirectiveNoFileComp
		},
	}
}

// generators are the generators' names, without their arguments.
func generators() []string {
	var names []string
	for _, g := range layout.GeneratorNames() {
		names = append(names, strings.Fields(g)[0])
	}
	return names
}

func layoutGen(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usageErrorf("layout gen: missing generator name (one of: %s)", strings.Join(layout.GeneratorNames(), ", "))
	}
	nums := make([]int64, 0, len(args)-1)
	for _, a := range args[1:] {
		n, err := strconv.ParseInt(a, 0, 64)
		if err != nil {
			return usageErrorf("layout gen %s: %q is not a number", args[0], a)
		}
		nums = append(nums, n)
	}
	runs, err := layout.Generate(args[0], nums)
	if err != nil {
		return usageErrorf("layout gen: %v", err)
	}
	_, err = io.WriteString(stdout, layout.Canonical(runs))
	return err
}
