package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

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
show. The layout and the source are checked before OUT is touched; the view
is written to a new file beside OUT and renamed over it once whole, so -o may
name the source, and a failure or a signal leaves OUT as it was. Long runs
are copied by the kernel at the speed of cp, short ones gathered a few MiB at
a time; memory stays bounded whatever the size (a source on standard input is
kept in a memfd first, as the layout reads it in any order).`,
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

	// Everything is checked before the output is touched.
	plan, err := engine.PlanOffline(text, src, opts)
	load.done()
	var lerr *layout.Error
	if errors.As(err, &lerr) {
		return fmt.Errorf("%s: %w", quote(layoutFile), lerr)
	} else if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	defer plan.Close()
	dst, err := openOutput(out, stdout)
	if err != nil {
		return err
	}
	err = plan.WriteTo(dst.f)
	write.done()
	if err != nil {
		dst.abort()
		if dst.replaces != "" {
			return fmt.Errorf("apply: %w (%s is unchanged)", err, quote(out))
		}
		return fmt.Errorf("apply: %w", err)
	}
	return dst.commit()
}

// output is where apply writes the view. A regular file OUT is never written in place: the
// view goes to a new file beside it, renamed over OUT once whole (as sort -o does), so OUT may
// be the source, and any failure, a signal included, leaves OUT as it was and no file behind.
// Standard output, and an OUT that is not a regular file (a device, a pipe), are written as
// the view is made.
type output struct {
	f        *os.File
	name     string // OUT as the user gave it, for messages
	replaces string // the file OUT that f is renamed over; "" when f is written in place
	closeF   func() error

	mu   sync.Mutex // held by commit, abort and the signal handler, one at a time
	done bool       // f was renamed into place or removed; protected by mu
	sigs chan os.Signal
}

// openOutput opens where the view goes: the file out, or stdout ("" or "-").
func openOutput(out string, stdout io.Writer) (*output, error) {
	if out == "" || out == "-" {
		return openStdout(stdout)
	}
	fail := func(err error) error { return fmt.Errorf("apply: -o %s: %v", quote(out), unwrapPath(err)) }
	target := out
	if t, err := filepath.EvalSymlinks(out); err == nil {
		target = t // a symbolic link stays one: its target is replaced
	}
	fi, err := os.Stat(target)
	mode := os.FileMode(0o666) &^ umask()
	switch {
	case err == nil && fi.IsDir():
		return nil, fail(errors.New("is a directory"))
	case err == nil && !fi.Mode().IsRegular():
		f, err := os.OpenFile(target, os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			return nil, fail(err)
		}
		return &output{f: f, closeF: f.Close}, nil
	case err == nil:
		mode = fi.Mode() & (os.ModePerm | os.ModeSetuid | os.ModeSetgid | os.ModeSticky)
	case !errors.Is(err, os.ErrNotExist):
		return nil, fail(err)
	}
	o := &output{name: out, replaces: target, sigs: make(chan os.Signal, 1)}
	// The handler is in place before the file exists, so that no signal can leave it behind.
	// A signal the caller ignores (SIGINT in a background job of a script) stays ignored.
	for _, s := range []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP} {
		if !signal.Ignored(s) {
			signal.Notify(o.sigs, s)
		}
	}
	dir, base := filepath.Split(target)
	if dir == "" {
		dir = "." // beside a relative OUT (CreateTemp would take "" for the temporary directory)
	}
	f, err := os.CreateTemp(dir, "."+base+".nlfs-")
	if err != nil {
		signal.Stop(o.sigs)
		return nil, fmt.Errorf("apply: -o %s: cannot make the new file beside it (apply writes the view there, then renames it over %s): %v",
			quote(out), quote(out), unwrapPath(err))
	}
	o.f, o.closeF = f, f.Close
	if err := f.Chmod(mode); err != nil {
		o.abort()
		return nil, fail(err)
	}
	if st, ok := fiSys(fi); ok {
		f.Chown(int(st.Uid), int(st.Gid)) // as far as allowed: root keeps the owner, a user the group
	}
	go o.onSignal()
	return o, nil
}

// onSignal removes the unfinished file when a signal ends apply, then lets the signal end it
// as it would have.
func (o *output) onSignal() {
	s, ok := <-o.sigs
	if !ok {
		return
	}
	o.mu.Lock() // never released: the process ends here
	if !o.done {
		os.Remove(o.f.Name())
	}
	signal.Reset(s)
	syscall.Kill(os.Getpid(), s.(syscall.Signal)) // the runtime's default action ends the process
	time.Sleep(time.Second)
	os.Exit(128 + int(s.(syscall.Signal))) // only if that did not come
}

// commit puts the finished view in place.
func (o *output) commit() error {
	if o.replaces == "" {
		if err := o.closeF(); err != nil {
			return fmt.Errorf("apply: write the view: %w", err)
		}
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	defer o.stopSignals()
	err := o.closeF()
	if err == nil {
		err = os.Rename(o.f.Name(), o.replaces)
	}
	if err != nil {
		os.Remove(o.f.Name())
		o.done = true
		return fmt.Errorf("apply: -o %s: %v (it is unchanged)", quote(o.name), unwrapPath(err))
	}
	o.done = true
	return nil
}

// abort drops what was written: a new file is removed.
func (o *output) abort() {
	if o.replaces == "" {
		o.closeF()
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	defer o.stopSignals()
	o.closeF()
	os.Remove(o.f.Name())
	o.done = true
}

func (o *output) stopSignals() {
	signal.Stop(o.sigs)
	close(o.sigs)
}

// openStdout is the output on stdout. The view is written with system calls on a descriptor;
// a stdout that is not a file (a test's buffer) gets it through a pipe.
func openStdout(stdout io.Writer) (*output, error) {
	if f, ok := stdout.(*os.File); ok {
		return &output{f: f, closeF: func() error { return nil }}, nil
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	copied := make(chan error, 1)
	go func() {
		_, err := io.Copy(stdout, r)
		r.Close()
		copied <- err
	}()
	return &output{f: w, closeF: func() error {
		w.Close()
		return <-copied
	}}, nil
}

// umask is the process's file mode creation mask, which a new OUT gets its mode through.
func umask() os.FileMode {
	m := syscall.Umask(0)
	syscall.Umask(m)
	return os.FileMode(m)
}

// fiSys is the owner information of fi, when there is a file.
func fiSys(fi os.FileInfo) (*syscall.Stat_t, bool) {
	if fi == nil {
		return nil, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return st, ok
}
