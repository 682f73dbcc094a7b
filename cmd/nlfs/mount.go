package main

import (
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/nlfs/nlfs/engine"
	"github.com/nlfs/nlfs/fs"
	"github.com/nlfs/nlfs/layout"
	"github.com/nlfs/nlfs/remapper"
	"github.com/nlfs/nlfs/web"
)

func newMountCmd(stdout io.Writer) *cobra.Command {
	c := newMountConfig()
	cmd := &cobra.Command{
		Use:   "mount [OPTION]... MOUNTPOINT",
		Short: "mount a store and its view; returns once it is ready",
		Long: `Mount a fresh store and its nonlinear view on MOUNTPOINT, an empty directory.
nlfs mount returns once the filesystem is ready and leaves a daemon serving
it, whose command line names the mountpoint; -f keeps it in the foreground.
A mountpoint left dead by a killed daemon is recovered; a live one is refused.

Every option is also a mount option: -o pages=8,layout=/etc/nlfs/rev.layout
(a switch by its name: -o allow_other). mount(8) runs nlfs that way for
'mount -t fuse.nlfs none DIR -o OPTIONS' and fstab lines; generic mount
options (rw, nosuid, nodev, noexec, noatime, _netdev, x-systemd.*, ...) are
accepted.`,
		Example: `  nlfs mount --pages 3 /tmp/v
  nlfs mount -f --source disk.img --layout rev.layout /tmp/v
  mount -t fuse.nlfs none /tmp/v -o pages=3,backend=mmap`,
		Args: wantArgs("MOUNTPOINT"),
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(args[0], stdout) },
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return nil, cobra.ShellCompDirectiveFilterDirs
		},
	}
	cmd.Flags().AddFlagSet(c.flags)
	completeMountFlags(cmd, c)
	return cmd
}

// run mounts at mountpoint: in this process with --foreground, else through
// a daemon. stdout gets the line that names the daemon.
func (c *mountConfig) run(mountpoint string, stdout io.Writer) error {
	if err := c.check(); err != nil {
		return err
	}
	mnt, err := filepath.Abs(mountpoint)
	if err != nil {
		return mountpointErrorf("mountpoint %s: %v", quote(mountpoint), err)
	}
	if c.foreground {
		return c.serve(mnt)
	}
	return c.daemonize(mnt, stdout)
}

// serve mounts and serves in this process until unmounted or signalled.
func (c *mountConfig) serve(mnt string) (err error) {
	d := newDaemonPipe(c.readyFD)
	defer func() { d.fail(err) }()
	// Paths are taken from the caller's working directory, which a daemon
	// then leaves, not to pin it.
	if c.source, err = absPath(c.source); err != nil {
		return err
	}
	if c.layout, err = absPath(c.layout); err != nil {
		return err
	}
	if c.opts.StorePath, err = absPath(c.opts.StorePath); err != nil {
		return err
	}
	if d != nil {
		os.Chdir("/")
	}
	if err := prepareMountpoint(mnt, d.note); err != nil {
		return err
	}
	if err := checkAllowOther(c.allowOther); err != nil {
		return err
	}
	opts, bar, err := c.engineOptions(mnt, d)
	if err != nil {
		return err
	}
	setMemoryLimit(c.opts.MaxViewPages)
	e, err := engine.New(opts)
	if cl, ok := opts.Source.(io.Closer); ok && opts.Source != os.Stdin {
		cl.Close()
	}
	bar.done()
	if err != nil {
		var lerr *layout.Error
		if errors.As(err, &lerr) {
			return fmt.Errorf("--layout %s: %w", quote(c.layout), lerr)
		}
		return fmt.Errorf("set up store: %w", err)
	}
	defer e.Close()

	var page *web.Server
	if c.httpAddr != "" {
		if page, err = web.New(e, web.Options{Addr: c.httpAddr, MaxViewPages: c.opts.MaxViewPages, Note: d.note}); err != nil {
			return fmt.Errorf("--http %s: %w", c.httpAddr, err)
		}
		defer page.Close()
	}

	// Catch signals before mounting: go-fuse's mount ends with a poll of
	// a file in the new mount, answered by this very process, and a
	// signal that killed the process then would leave a thread waiting
	// on itself in the kernel, unkillable, and the mount hung. A signal
	// that arrives while mounting is handled once the mount is up.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	signal.Ignore(syscall.SIGHUP)

	logger := log.New(os.Stderr, "nlfs: ", 0)
	mo := fs.MountOptions{
		AllowOther: c.allowOther,
		Debug:      c.debug,
		Logger:     logger,
	}
	if page != nil {
		mo.WebURL = page.URL()
	}
	srv, root, err := mountFUSE(mnt, e, mo)
	if err != nil {
		return err
	}
	defer root.Close()
	markCloseOnExec() // /dev/fuse, and anything inherited

	done := make(chan struct{})
	go func() {
		srv.Wait()
		close(done)
	}()
	// Without its pid file the mount still serves; only nlfs umount
	// cannot wait for it.
	if err := writePidFile(mnt); err != nil {
		d.note(fmt.Sprintf("%v: nlfs umount will not wait for this daemon", err))
	} else {
		defer removePidFile(mnt)
	}
	if d != nil {
		if page != nil {
			d.web(page.URL())
		}
		d.ready()
	} else {
		logger.Printf("serving %s; Ctrl-C unmounts", quote(mnt))
		if page != nil {
			logger.Printf("live page: %s", page.URL())
		}
	}

	select {
	case <-done:
		return nil // unmounted from outside (nlfs umount)
	case s := <-sig:
		if c.debug || d == nil {
			logger.Printf("%v: unmounting %s", s, quote(mnt))
		}
		if err := srv.Unmount(); err != nil {
			// Busy: a process holds a file or its working directory
			// there. Detach now: the kernel ends the mount when they go,
			// and until then the daemon serves them. A second signal ends
			// it at once.
			if err := detach(mnt); err != nil {
				return fmt.Errorf("unmount %s: %w", quote(mnt), err)
			}
			logger.Printf("%s was busy: detached it lazily; serving what is still open until it is closed (signal again to end now)", quote(mnt))
			select {
			case <-done:
			case <-sig:
			}
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

// engineOptions completes the engine's options for serving mnt: it opens
// what the store starts from. Loading the source shows progress: on the
// caller's terminal through the daemon pipe d, or with the bar returned on
// this process's own (done once loaded).
func (c *mountConfig) engineOptions(mnt string, d *daemonPipe) (engine.Options, *progress, error) {
	opts := c.opts
	opts.Backend, _ = remapper.ParseBackend(c.backend)
	opts.Holder = fmt.Sprintf("the nlfs daemon %d serving %s", os.Getpid(), quote(mnt))
	opts.Note = d.note
	var bar *progress
	if c.source != "" {
		// Streamed into the store, never held in the heap whole: a
		// multi-GiB source costs the daemon no memory beyond the store.
		f, total, err := openSource(c.source)
		if err != nil {
			return opts, nil, usageErrorf("--source: %v", err)
		}
		opts.Source = f
		if d != nil {
			opts.Progress = d.sendProgress(total)
		} else if bar = newProgress("loading "+quote(c.source), total); bar != nil {
			opts.Progress = bar.set
		}
	}
	if c.layout != "" {
		var err error
		if opts.Layout, err = readInput(c.layout); err != nil {
			return opts, nil, usageErrorf("--layout: %v", err)
		}
	}
	return opts, bar, nil
}

// openSource opens a source of data ("-": standard input) and returns its
// size, -1 when it is not known ahead (a pipe).
func openSource(name string) (*os.File, int64, error) {
	f := os.Stdin
	if name != "-" {
		var err error
		if f, err = os.Open(name); err != nil {
			return nil, 0, fmt.Errorf("read %s: %v", quote(name), unwrapPath(err))
		}
	}
	fi, err := f.Stat()
	switch {
	case err != nil:
		return f, -1, nil
	case fi.IsDir():
		f.Close()
		return nil, 0, fmt.Errorf("read %s: is a directory", quote(name))
	case !fi.Mode().IsRegular():
		return f, -1, nil
	}
	return f, fi.Size(), nil
}

// readInput reads a named file, or standard input for "-".
func readInput(name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(os.Stdin)
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", quote(name), unwrapPath(err))
	}
	return b, nil
}
