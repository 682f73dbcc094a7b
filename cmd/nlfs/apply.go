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
	"github.com/nlfs/nlfs/remapper"
)

func newApplyCmd(stdout io.Writer) *cobra.Command {
	var layoutFile, source, out, backend string
	var maxView int64
	cmd := &cobra.Command{
		Use:   "apply --layout FILE [--source FILE] [-o OUT]",
		Short: "the same remapping without FUSE: write the view of a file",
		Long: `Remap without FUSE, for scripts and machines without /dev/fuse: load the store
from --source, apply the layout with the same mapper a mount uses, and write
the view to OUT.`,
		Example: `  nlfs layout gen reverse 8 > rev.layout
  nlfs apply --layout rev.layout --source disk.img -o reversed.img`,
		Args: wantArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			return apply(layoutFile, source, out, backend, maxView, stdout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&layoutFile, "layout", "", "the layout to apply, read from `FILE` (- for standard input)")
	f.StringVar(&source, "source", "", "the store's content, read from `FILE` (default: standard input)")
	f.StringVarP(&out, "output", "o", "", "write the view to `FILE` (default: standard output)")
	backendFlag(f, &backend)
	maxViewPagesFlag(f, &maxView)
	completeBackend(cmd)
	return cmd
}

func apply(layoutFile, source, out, backend string, maxView int64, stdout io.Writer) error {
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
	b, err := remapper.ParseBackend(backend)
	if err != nil {
		return usageErrorf("apply: --backend: %v", err)
	}
	opts := engine.Options{Backend: b, MaxViewPages: maxView}
	if opts.Layout, err = readInput(layoutFile); err != nil {
		return usageErrorf("apply: --layout: %v", err)
	}
	src, total, err := openSource(source)
	if err != nil {
		return usageErrorf("apply: --source: %v", err)
	}
	defer src.Close()
	opts.Source = src
	load := newProgress("loading "+quote(source), total)
	if load != nil {
		opts.Progress = load.set
	}
	e, err := engine.New(opts)
	load.done()
	var lerr *layout.Error
	if errors.As(err, &lerr) {
		return fmt.Errorf("%s: %w", quote(layoutFile), lerr)
	} else if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	defer e.Close()

	if out == "" || out == "-" {
		return copyView(stdout, e.Main().Remapper())
	}
	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("apply: -o %s: %v", quote(out), unwrapPath(err))
	}
	defer f.Close()
	if err := copyView(f, e.Main().Remapper()); err != nil {
		return err
	}
	return f.Close()
}

// copyView writes the whole view to w, a megabyte at a time.
func copyView(w io.Writer, m *remapper.View) error {
	bar := newProgress("writing the view", m.ViewSize())
	defer bar.done()
	buf := make([]byte, 1<<20)
	for off := int64(0); off < m.ViewSize(); {
		n, err := m.ReadView(buf, off)
		if err != nil {
			return fmt.Errorf("apply: read view: %w", err)
		}
		if n == 0 {
			break
		}
		if _, err := w.Write(buf[:n]); err != nil {
			return fmt.Errorf("apply: write view: %w", err)
		}
		off += int64(n)
		bar.set(off)
	}
	return nil
}
