package main

import (
	"bufio"
	"errors"
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
// The daemon writes messages on the pipe, then closes it. Each is framed: a header line
// "KIND LENGTH\n", then LENGTH bytes of payload, so that any byte sequence (a path with a
// newline in it) passes intact:
//
//	note MESSAGE            a message for the user
//	progress LOADED TOTAL   loading the source (TOTAL -1: not known)
//	web URL                 the live page's address, with its token
//	ready                   the mount is up (no payload)
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
	var kind, msg, page string
	for br := bufio.NewReader(r); ; {
		kind, msg, err = readFrame(br)
		if err != nil {
			break
		}
		if kind == "note" {
			fmt.Fprintf(os.Stderr, "nlfs: %s\n", msg)
		} else if kind == "web" {
			page = msg
		} else if loaded, total, ok := parseProgress(kind, msg); ok {
			if bar == nil {
				bar = newProgress("loading "+quote(c.source), total)
			}
			bar.set(loaded)
		} else {
			break
		}
	}
	bar.done()
	if kind == "ready" {
		pid := cmd.Process.Pid
		cmd.Process.Release()
		fmt.Fprintf(stdout, "nlfs: serving %s (daemon pid %d); stop with: nlfs umount %s\n", quote(mnt), pid, quote(mnt))
		if page != "" {
			fmt.Fprintf(stdout, "nlfs: live page: %s\n", page)
		}
		return nil
	}
	if err == nil && kind != "error" {
		err = fmt.Errorf("an unknown message %q", kind)
	}
	if err != nil && err != io.EOF {
		// Not what this very program writes: never wait on a daemon that may be serving.
		pid := cmd.Process.Pid
		cmd.Process.Release()
		return mountErrorf("mount %s: the daemon (pid %d) said something unreadable on its ready pipe (%v); see whether it serves, and end it with: nlfs umount %s", quote(mnt), pid, err, quote(mnt))
	}
	state, _ := cmd.Process.Wait()
	if kind == "error" {
		codeText, text, _ := strings.Cut(msg, " ")
		if code, err := strconv.Atoi(codeText); err == nil {
			return &exitError{code, errors.New(text)}
		}
	}
	return mountErrorf("mount %s: the daemon exited before the mount was ready (%v)", quote(mnt), state)
}

// maxFrame bounds a message on the ready pipe: the longest is an error naming a few paths.
const maxFrame = 1 << 20

// readFrame reads one message of the ready pipe: its kind and payload. A pipe that ends
// between messages gives io.EOF.
func readFrame(br *bufio.Reader) (kind, payload string, err error) {
	header, err := br.ReadString('\n')
	if err == io.EOF && header == "" {
		return "", "", io.EOF
	} else if err != nil {
		return "", "", fmt.Errorf("a message cut short: %q", header)
	}
	kind, lenText, _ := strings.Cut(strings.TrimSuffix(header, "\n"), " ")
	n, err := strconv.Atoi(lenText)
	if err != nil || n < 0 || n > maxFrame {
		return "", "", fmt.Errorf("a bad message header %q", header)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(br, b); err != nil {
		return "", "", fmt.Errorf("a %s message cut short after %d bytes", kind, n)
	}
	return kind, string(b), nil
}

// writeFrame writes one message of the ready pipe.
func writeFrame(w io.Writer, kind, payload string) {
	fmt.Fprintf(w, "%s %d\n%s", kind, len(payload), payload)
}

func parseProgress(kind, msg string) (loaded, total int64, ok bool) {
	if kind != "progress" {
		return 0, 0, false
	}
	_, err := fmt.Sscanf(msg, "%d %d", &loaded, &total)
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
	writeFrame(d.w, "note", msg)
}

// sendProgress returns the engine's progress callback for loading total
// bytes (-1: not known): lines on the pipe, for the caller to draw on its
// terminal.
func (d *daemonPipe) sendProgress(total int64) func(int64) {
	return func(loaded int64) {
		if worthShowing(loaded, total) {
			writeFrame(d.w, "progress", fmt.Sprintf("%d %d", loaded, total))
		}
	}
}

// web tells the caller the live page's address.
func (d *daemonPipe) web(url string) { writeFrame(d.w, "web", url) }

func (d *daemonPipe) ready() {
	writeFrame(d.w, "ready", "")
	d.w.Close()
	d.w = nil
}

// fail reports err to the waiting caller, which prints it; a nil err, or one
// after ready, needs no report.
func (d *daemonPipe) fail(err error) {
	if d == nil || d.w == nil || err == nil {
		return
	}
	writeFrame(d.w, "error", fmt.Sprintf("%d %s", exitCode(err), err))
	d.w.Close()
	d.w = nil
}
