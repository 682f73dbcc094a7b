package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// The background mount, in the manner of gocryptfs: nlfs runs itself again
// with the user's own arguments plus --foreground and --ready-fd, detached
// from the terminal, and waits until that daemon says, on the ready pipe,
// that the mount is ready or why it failed. Nothing is rebuilt by hand, so
// whatever the user asked (flags, -o, the mount.fuse3 form) the daemon gets.
//
// The daemon writes lines on the pipe, then closes it:
//
//	note MESSAGE            a line for the user
//	progress LOADED TOTAL   loading the source (TOTAL -1: not known)
//	web URL                 the live page's address, with its token
//	ready                   the mount is up
//	error CODE MESSAGE      it failed, with that exit code

// daemonize starts the daemon and returns once it reports the mount ready,
// or with its error. stdout gets the line naming the daemon.
func (c *mountConfig) daemonize(mnt string, stdout io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	// Before the user's arguments: after them, a "--" would make them
	// arguments rather than flags.
	args := append([]string{"--foreground", "--ready-fd=3"}, os.Args[1:]...)
	cmd := exec.Command(exe, args...)
	// The daemon starts in the caller's working directory, to find the
	// paths it was given, and leaves it once it has them.
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

	var bar *progress
	var line, page string
	for br := bufio.NewReader(r); ; {
		l, err := br.ReadString('\n')
		line = strings.TrimSuffix(l, "\n")
		if err != nil {
			break
		}
		if msg, ok := strings.CutPrefix(line, "note "); ok {
			fmt.Fprintf(os.Stderr, "nlfs: %s\n", msg)
		} else if url, ok := strings.CutPrefix(line, "web "); ok {
			page = url
		} else if loaded, total, ok := parseProgress(line); ok {
			if bar == nil {
				bar = newProgress("loading "+quote(c.source), total)
			}
			bar.set(loaded)
		} else {
			break
		}
	}
	bar.done()
	if line == "ready" {
		pid := cmd.Process.Pid
		cmd.Process.Release()
		fmt.Fprintf(stdout, "nlfs: serving %s (daemon pid %d); stop with: nlfs umount %s\n", quote(mnt), pid, quote(mnt))
		if page != "" {
			fmt.Fprintf(stdout, "nlfs: live page: %s\n", page)
		}
		return nil
	}
	state, _ := cmd.Process.Wait()
	if rest, ok := strings.CutPrefix(line, "error "); ok {
		codeText, msg, _ := strings.Cut(rest, " ")
		if code, err := strconv.Atoi(codeText); err == nil {
			return &exitError{code, fmt.Errorf("%s", msg)}
		}
	}
	return mountErrorf("mount %s: the daemon exited before the mount was ready (%v)", quote(mnt), state)
}

func parseProgress(line string) (loaded, total int64, ok bool) {
	rest, ok := strings.CutPrefix(line, "progress ")
	if !ok {
		return 0, 0, false
	}
	_, err := fmt.Sscanf(rest, "%d %d", &loaded, &total)
	return loaded, total, err == nil
}

// daemonPipe is the daemon's end of the ready pipe; nil in a foreground
// mount the user started, which says everything on its own stderr.
type daemonPipe struct{ w *os.File }

func newDaemonPipe(fd int) *daemonPipe {
	if fd <= 0 {
		return nil
	}
	return &daemonPipe{w: os.NewFile(uintptr(fd), "ready")}
}

func (d *daemonPipe) note(msg string) {
	if d == nil {
		fmt.Fprintf(os.Stderr, "nlfs: %s\n", msg)
		return
	}
	fmt.Fprintf(d.w, "note %s\n", msg)
}

// sendProgress returns the engine's progress callback for loading total
// bytes (-1: not known): lines on the pipe, for the caller to draw on its
// terminal.
func (d *daemonPipe) sendProgress(total int64) func(int64) {
	return func(loaded int64) {
		if worthShowing(loaded, total) {
			fmt.Fprintf(d.w, "progress %d %d\n", loaded, total)
		}
	}
}

// web tells the caller the live page's address.
func (d *daemonPipe) web(url string) { fmt.Fprintf(d.w, "web %s\n", url) }

func (d *daemonPipe) ready() {
	fmt.Fprintln(d.w, "ready")
	d.w.Close()
	d.w = nil
}

// fail reports err to the waiting caller, which prints it; a nil err, or one
// after ready, needs no report.
func (d *daemonPipe) fail(err error) {
	if d == nil || d.w == nil || err == nil {
		return
	}
	fmt.Fprintf(d.w, "error %d %s\n", exitCode(err), strings.ReplaceAll(err.Error(), "\n", " "))
	d.w.Close()
	d.w = nil
}
