package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/nlfs/nlfs/layout"
	"github.com/nlfs/nlfs/layout/render"

	"github.com/nlfs/nlfs/run"
)

func layoutCmd(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usageErrorf("layout: want check, fmt, show or gen (see nlfs --help)")
	}
	switch args[0] {
	case "check", "fmt", "show":
		return layoutFileCmd(args[0], args[1:], stdout)
	case "gen":
		return layoutGenCmd(args[1:], stdout)
	}
	return usageErrorf("layout: unknown subcommand %q (want check, fmt, show or gen)", args[0])
}

// layoutFileCmd reads one layout and checks, formats or draws it.
func layoutFileCmd(sub string, args []string, stdout io.Writer) error {
	fset := newFlagSet("layout "+sub, "[--pages N] FILE")
	pages := fset.Int64("pages", -1, "store size in pages to check against (default: no limit)")
	maxView := fset.Int64("max-view-pages", layout.DefaultMaxViewPages, "largest view allowed, in pages")
	pos, err := parseArgs(fset, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fset, pos, "FILE"); err != nil {
		return err
	}
	text, err := readInput(pos[0])
	if err != nil {
		return usageErrorf("layout %s: %v", sub, err)
	}
	lim := layout.Limits{DataPages: *pages, MaxViewPages: *maxView}
	if *pages < 0 {
		lim.DataPages = math.MaxInt64
	}
	l, err := layout.Parse(text, lim)
	if err != nil {
		var lerr *layout.Error
		if errors.As(err, &lerr) {
			return layoutErrorf("%s: %v", pos[0], lerr)
		}
		return err
	}
	if l.Identity && *pages < 0 {
		if sub == "check" {
			fmt.Fprintf(stdout, "%s: ok: no entries, the identity view that follows the store\n", pos[0])
			return nil
		}
		return usageErrorf("layout %s: %s has no entries (the identity): give --pages N to draw it", sub, pos[0])
	}
	runs := l.Runs
	if l.Identity {
		runs = run.Identity(l.Pages)
	}
	switch sub {
	case "check":
		fmt.Fprintf(stdout, "%s: ok: %d view pages in %d runs\n", pos[0], l.Pages, len(runs))
	case "fmt":
		_, err = stdout.Write(layout.AppendCanonical(nil, runs))
	case "show":
		err = render.Text(stdout, runs, render.Info{DataPages: lim.DataPages, VMAs: -1})
	}
	return err
}

func layoutGenCmd(args []string, stdout io.Writer) error {
	fset := newFlagSet("layout gen", "NAME ARGS...\n\nGenerators:\n  "+strings.Join(layout.GeneratorNames(), "\n  "))
	// gen takes no flags; its arguments are numbers, negative ones included
	// (which the generator then refuses by name).
	pos := args
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
		fset.Usage()
		return errHelp
	}
	if len(pos) == 0 {
		return usageErrorf("layout gen: missing generator name (one of: %s)", strings.Join(layout.GeneratorNames(), ", "))
	}
	nums := make([]int64, 0, len(pos)-1)
	for _, a := range pos[1:] {
		n, err := strconv.ParseInt(a, 0, 64)
		if err != nil {
			return usageErrorf("layout gen %s: %q is not a number", pos[0], a)
		}
		nums = append(nums, n)
	}
	runs, err := layout.Generate(pos[0], nums)
	if err != nil {
		return usageErrorf("layout gen: %v", err)
	}
	_, err = io.WriteString(stdout, layout.Canonical(runs))
	return err
}
