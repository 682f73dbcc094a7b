package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/nlfs/nlfs/engine"
	"github.com/nlfs/nlfs/layout"
)

func newApplyCmd(stdout io.Writer) *cobra.Command {
	var layoutFile, source, out string
	var maxView int64
	cmd := &cobra.Command{
		Use:   "apply --layout FILE [--source FILE] [-o OUT]",
		Short: "the same remapping without FUSE: write the view of a file",
		Long: `Remap without FUSE, for scripts and machines without /dev/fuse: write to OUT
the view that the layout makes of --source, the bytes a mount's view would
show. It copies the source's pages straight to OUT in the layout's order, at
the speed of cp, and holds nothing of them in memory (a source on standard
input is kept in a memfd first, as the layout reads it in any order).`,
		Example: `  nlfs layout gen reverse 8 > rev.layout
  nlfs apply --layout rev.layout --source disk.img -o reversed.img`,
		Args: wantArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			return apply(layoutFile, source, out, maxView, stdout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&layoutFile, "layout", "", "the layout to apply, read from `FILE` (- for standard input)")
	f.StringVar(&source, "source", "", "the store's content, read from `FILE` (default: standard input)")
	f.StringVarP(&out, "output", "o", "", "write the view to `FILE` (default: standard output)")
	maxViewPagesFlag(f, &maxView)
	return cmd
}

func apply(layoutFile, source, out string, maxView int64, stdout io.Writer) error {
	if source == "" {
		source = "-"
	}
	if layoutFile == "" {
		return usageErrorf("apply: --layout FILE is required (see nlfs apply --help)")
	}
	if layoutFile == "-" && source == "-" {
		return usageErrorf("apply: --layout and --source cannot both be standard input")
	}
	if source == "-" && term.IsTerminal(int(os.Stdin.Fd())) {
		return usageErrorf("apply: give --source FILE, or pipe the store's content in")
	}
	text, err := readInput(layoutFile)
	if err != nil {
		return usageErrorf("apply: --layout: %v", err)
	}
	src, total, err := openSource(source)
	if err != nil {
		return usageErrorf("apply: --source: %v", err)
	}
	defer src.Close()
	load := newProgress("loading "+quote(source), total)
	var write *progress
	opts := engine.OfflineOptions{MaxViewPages: maxView, Loaded: load.set}
	opts.Written = func(n, size int64) {
		if write == nil {
			load.done()
			write = newProgress("writing the view", size)
		}
		write.set(n)
	}

	dst, closeDst, err := applyOutput(out, stdout)
	if err != nil {
		return err
	}
	err = engine.ApplyOffline(text, src, dst, opts)
	load.done()
	write.done()
	if cerr := closeDst(); err == nil {
		err = cerr
	}
	var lerr *layout.Error
	if errors.As(err, &lerr) {
		return fmt.Errorf("%s: %w", quote(layoutFile), lerr)
	} else if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	return nil
}

// applyOutput opens where apply writes the view: the file out, or stdout ("" or "-"). The
// view is written with system calls on a descriptor; a stdout that is not a file (a test's
// buffer) gets it through a pipe.
func applyOutput(out string, stdout io.Writer) (*os.File, func() error, error) {
	if out != "" && out != "-" {
		f, err := os.Create(out)
		if err != nil {
			return nil, nil, fmt.Errorf("apply: -o %s: %v", quote(out), unwrapPath(err))
		}
		return f, f.Close, nil
	}
	if f, ok := stdout.(*os.File); ok {
		return f, func() error { return nil }, nil
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	copied := make(chan error, 1)
	go func() {
		_, err := io.Copy(stdout, r)
		r.Close()
		copied <- err
	}()
	return w, func() error {
		w.Close()
		return <-copied
	}, nil
}
