package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/nlfs/nlfs/engine"
	"github.com/nlfs/nlfs/layout"
	"github.com/nlfs/nlfs/remapper"
)

// applyCmd remaps without FUSE: load the store, apply the layout with the
// same mapper a mount uses, write the view out.
func applyCmd(args []string, stdout io.Writer) error {
	fset := newFlagSet("apply", "--layout FILE [--source FILE] [-o OUT]")
	layoutFile := fset.String("layout", "", "the layout to apply: `FILE` (- for standard input)")
	source := fset.String("source", "-", "the store's content: `FILE` (default: standard input)")
	out := fset.String("o", "-", "where to write the view: `FILE` (default: standard output)")
	backend := fset.String("backend", "auto", "auto, remap, mmap or gather")
	maxView := fset.Int64("max-view-pages", layout.DefaultMaxViewPages, "largest view a layout may ask for, in pages")
	pos, err := parseArgs(fset, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fset, pos); err != nil {
		return err
	}
	if *layoutFile == "" {
		return usageErrorf("apply: --layout FILE is required (see nlfs apply --help)")
	}
	if *layoutFile == "-" && *source == "-" {
		return usageErrorf("apply: --layout and --source cannot both be standard input")
	}
	if *source == "-" && isTerminal(os.Stdin) {
		return usageErrorf("apply: give --source FILE, or pipe the store's content in")
	}
	b, err := remapper.ParseBackend(*backend)
	if err != nil {
		return usageErrorf("apply: --backend: %v", err)
	}
	opts := engine.Options{Backend: b, MaxViewPages: *maxView}
	if opts.Layout, err = readInput(*layoutFile); err != nil {
		return usageErrorf("apply: --layout: %v", err)
	}
	src, err := readInput(*source)
	if err != nil {
		return usageErrorf("apply: --source: %v", err)
	}
	opts.Source = bytes.NewReader(src)
	e, err := engine.New(opts)
	if err != nil {
		var lerr *layout.Error
		if errors.As(err, &lerr) {
			return layoutErrorf("%s: %v", *layoutFile, lerr)
		}
		return fmt.Errorf("apply: %w", err)
	}
	defer e.Close()

	w := stdout
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			return fmt.Errorf("apply: %w", err)
		}
		defer f.Close()
		w = f
	}
	if err := copyView(w, e.Main().Remapper()); err != nil {
		return fmt.Errorf("apply: write view: %w", err)
	}
	if f, ok := w.(*os.File); ok && f != os.Stdout {
		return f.Close()
	}
	return nil
}

// copyView writes the whole view to w, a megabyte at a time.
func copyView(w io.Writer, m *remapper.View) error {
	buf := make([]byte, 1<<20)
	for off := int64(0); off < m.ViewSize(); {
		n, err := m.ReadView(buf, off)
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
		if _, err := w.Write(buf[:n]); err != nil {
			return err
		}
		off += int64(n)
	}
	return nil
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
