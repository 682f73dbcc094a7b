package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"

	"github.com/nlfs/nlfs/engine"
	"github.com/nlfs/nlfs/fs"
	"github.com/nlfs/nlfs/layout"
	"github.com/nlfs/nlfs/remapper"
)

// mountConfig is what `nlfs mount` was asked to do.
type mountConfig struct {
	mountpoint   string
	pages        int64
	source       string
	layout       string
	backend      string
	maxViewPages int64
	allowOther   bool
	debug        bool
	foreground   bool
	readyFD      int // the daemon reports readiness here; 0: not a daemon child
}

func (c *mountConfig) flags(fset *flag.FlagSet) {
	fset.Int64Var(&c.pages, "pages", 16, "store size in pages (without --source)")
	fset.StringVar(&c.source, "source", "", "initial content of data: `FILE`")
	fset.StringVar(&c.layout, "layout", "", "initial layout: `FILE`")
	fset.StringVar(&c.backend, "backend", "auto", "how the view is mapped: auto, remap, mmap or gather")
	fset.Int64Var(&c.maxViewPages, "max-view-pages", layout.DefaultMaxViewPages, "largest view a layout may ask for, in pages")
	fset.BoolVar(&c.allowOther, "allow-other", false, "let other users use the mount (with default_permissions)")
	fset.BoolVar(&c.debug, "debug", false, "log every FUSE request to stderr (stays in the foreground's stderr)")
	fset.BoolVar(&c.foreground, "f", false, "stay in the foreground; Ctrl-C or SIGTERM unmounts")
	fset.BoolVar(&c.foreground, "foreground", false, "same as -f")
	fset.IntVar(&c.readyFD, "ready-fd", 0, "internal: descriptor on which the daemon reports readiness")
}

func mountCmd(args []string, stdout io.Writer) error {
	var c mountConfig
	fset := newFlagSet("mount", "[flags] MOUNTPOINT")
	c.flags(fset)
	pos, err := parseArgs(fset, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fset, pos, "MOUNTPOINT"); err != nil {
		return err
	}
	explicit := map[string]bool{}
	fset.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	if explicit["pages"] && c.source != "" {
		return usageErrorf("mount: --pages and --source both size the store; give one")
	}
	if c.pages < 0 {
		return usageErrorf("mount: --pages %d: want 0 or more", c.pages)
	}
	if c.pages > (1<<63-1)/remapper.PageSize() {
		return usageErrorf("mount: --pages %d: too large (the store's size in bytes must fit in 63 bits)", c.pages)
	}
	if c.maxViewPages < 1 {
		return usageErrorf("mount: --max-view-pages %d: want 1 or more", c.maxViewPages)
	}
	if _, err := remapper.ParseBackend(c.backend); err != nil {
		return usageErrorf("mount: --backend: %v", err)
	}
	if c.mountpoint, err = filepath.Abs(pos[0]); err != nil {
		return mountpointErrorf("mountpoint %s: %v", pos[0], err)
	}
	for _, p := range []*string{&c.source, &c.layout} {
		if *p != "" && *p != "-" {
			if *p, err = filepath.Abs(*p); err != nil {
				return usageErrorf("mount: %v", err)
			}
		}
	}
	if c.foreground {
		return serve(&c)
	}
	return daemonize(&c, stdout)
}

// daemonize starts `nlfs mount --foreground` detached from the terminal and
// returns once it reports the mount ready, or with its error. The child's
// command line names the mountpoint, so ps tells which daemon serves what.
func daemonize(c *mountConfig, stdout io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	args := []string{"mount", "--foreground", "--ready-fd=3",
		"--backend=" + c.backend,
		"--max-view-pages=" + strconv.FormatInt(c.maxViewPages, 10)}
	if c.source != "" {
		args = append(args, "--source="+c.source)
	} else {
		args = append(args, "--pages="+strconv.FormatInt(c.pages, 10))
	}
	if c.layout != "" {
		args = append(args, "--layout="+c.layout)
	}
	if c.allowOther {
		args = append(args, "--allow-other")
	}
	if c.debug {
		args = append(args, "--debug")
	}
	args = append(args, "--", c.mountpoint)
	cmd := exec.Command(exe, args...)
	cmd.Dir = "/" // never pin the caller's working directory
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if c.debug {
		cmd.Stderr = os.Stderr
	}
	if c.source == "-" || c.layout == "-" {
		cmd.Stdin = os.Stdin
	}
	markCloseOnExec() // the daemon inherits none of our caller's descriptors
	if err := cmd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("start daemon: %w", err)
	}
	w.Close()
	// The daemon writes "note MESSAGE" lines for the user, then "ready"
	// or "error CODE MESSAGE", then closes.
	var line string
	for br := bufio.NewReader(r); ; {
		l, err := br.ReadString('\n')
		line = strings.TrimSuffix(l, "\n")
		msg, isNote := strings.CutPrefix(line, "note ")
		if !isNote || err != nil {
			break
		}
		fmt.Fprintf(os.Stderr, "nlfs: %s\n", msg)
	}
	if line == "ready" {
		pid := cmd.Process.Pid
		cmd.Process.Release()
		fmt.Fprintf(stdout, "nlfs: serving %s (daemon pid %d); stop with: nlfs umount %s\n", c.mountpoint, pid, c.mountpoint)
		return nil
	}
	state, _ := cmd.Process.Wait()
	if code, msg, ok := parseReadyError(line); ok {
		return &exitError{code, msg}
	}
	return mountErrorf("mount %s: the daemon exited before the mount was ready (%v)", c.mountpoint, state)
}

func parseReadyError(line string) (int, string, bool) {
	rest, ok := strings.CutPrefix(line, "error ")
	if !ok {
		return 0, "", false
	}
	codeText, msg, ok := strings.Cut(rest, " ")
	code, err := strconv.Atoi(codeText)
	if !ok || err != nil {
		return 0, "", false
	}
	return code, msg, true
}

// serve mounts and serves in this process until unmounted or signalled.
func serve(c *mountConfig) (err error) {
	var ready *os.File
	if c.readyFD > 0 {
		ready = os.NewFile(uintptr(c.readyFD), "ready")
		defer func() {
			// A daemon's error goes to the waiting parent, which prints it.
			if err != nil {
				code := exitFailure
				var ee *exitError
				if errors.As(err, &ee) {
					code = ee.code
				}
				fmt.Fprintf(ready, "error %d %s\n", code, strings.ReplaceAll(err.Error(), "\n", " "))
				ready.Close()
			}
		}()
	}
	note := func(msg string) { fmt.Fprintf(os.Stderr, "nlfs: %s\n", msg) }
	if ready != nil {
		note = func(msg string) { fmt.Fprintf(ready, "note %s\n", msg) }
	}
	if err := prepareMountpoint(c.mountpoint, note); err != nil {
		return err
	}
	if err := checkAllowOther(c.allowOther); err != nil {
		return err
	}
	opts, err := c.engineOptions()
	if err != nil {
		return err
	}
	setMemoryLimit(c.maxViewPages)
	e, err := engine.New(opts)
	if cl, ok := opts.Source.(io.Closer); ok && opts.Source != os.Stdin {
		cl.Close()
	}
	if err != nil {
		var lerr *layout.Error
		if errors.As(err, &lerr) {
			return layoutErrorf("--layout %s: %v", c.layout, lerr)
		}
		return fmt.Errorf("set up store: %w", err)
	}
	defer e.Close()

	// Catch signals before mounting: go-fuse's mount ends with a poll of
	// a file in the new mount, answered by this very process, and a
	// signal that killed the process then would leave a thread waiting
	// on itself in the kernel, unkillable, and the mount hung. A signal
	// that arrives while mounting is handled once the mount is up.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	signal.Ignore(syscall.SIGHUP)

	logger := log.New(os.Stderr, "nlfs: ", 0)
	srv, root, err := fs.Mount(c.mountpoint, e, fs.MountOptions{
		AllowOther: c.allowOther,
		Debug:      c.debug,
		Logger:     logger,
	})
	if err != nil {
		return mountErrorf("%v", err)
	}
	defer root.Close()
	markCloseOnExec() // /dev/fuse, and anything inherited

	done := make(chan struct{})
	go func() {
		srv.Wait()
		close(done)
	}()

	if ready != nil {
		fmt.Fprintln(ready, "ready")
		ready.Close()
		ready = nil
	} else {
		logger.Printf("serving %s; Ctrl-C unmounts", c.mountpoint)
	}

	select {
	case <-done:
		return nil // unmounted from outside (nlfs umount)
	case s := <-sig:
		if c.debug || c.readyFD == 0 {
			logger.Printf("%v: unmounting %s", s, c.mountpoint)
		}
		if err := srv.Unmount(); err != nil {
			// Busy: a process holds a file or its working directory
			// there. Detach now; the kernel ends the mount when they go.
			if err := detach(c.mountpoint); err != nil {
				return fmt.Errorf("unmount %s: %w", c.mountpoint, err)
			}
			logger.Printf("%s was busy: detached it lazily", c.mountpoint)
			return nil
		}
		<-done
		return nil
	}
}

// setMemoryLimit asks the Go runtime to keep the daemon's own memory (the
// store is tmpfs and not counted) within 56 MiB + 16 bytes per page of the
// largest view allowed: what the view in force needs (24 bytes a run) plus
// a layout being parsed fits, but left to itself the runtime lets the heap
// grow to twice what is live and returns freed memory to the kernel only
// slowly. The limit is soft: a bigger need makes garbage collection more
// frequent, never a failure. GOMEMLIMIT, if set, wins.
func setMemoryLimit(maxViewPages int64) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	const base, perPage = 56 << 20, 16
	limit := int64(math.MaxInt64)
	if maxViewPages < (math.MaxInt64-base)/perPage {
		limit = base + perPage*maxViewPages
	}
	debug.SetMemoryLimit(limit)
}

func (c *mountConfig) engineOptions() (engine.Options, error) {
	backend, _ := remapper.ParseBackend(c.backend)
	opts := engine.Options{Pages: c.pages, Backend: backend, MaxViewPages: c.maxViewPages}
	var err error
	if c.source == "-" {
		opts.Source = os.Stdin
	} else if c.source != "" {
		// Streamed into the store, never held in the heap whole: a
		// multi-GiB source costs the daemon no memory beyond the store.
		f, err := os.Open(c.source)
		if err != nil {
			return opts, usageErrorf("--source: read %s: %v", c.source, unwrapPath(err))
		}
		if fi, err := f.Stat(); err == nil && fi.IsDir() {
			f.Close()
			return opts, usageErrorf("--source: read %s: is a directory", c.source)
		}
		opts.Source = f
	}
	if c.layout != "" {
		if opts.Layout, err = readInput(c.layout); err != nil {
			return opts, usageErrorf("--layout: %v", err)
		}
	}
	return opts, nil
}
