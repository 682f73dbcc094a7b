package main

// The transcript runner: a demo's commands, run by bash as printed, with their output, and its
// narration. What the narration claims is worked out in democlaims.go.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// session is one demo's mount, its shell's environment and its output.
type session struct {
	out  io.Writer
	dir  string   // the mountpoint: $d in the commands
	env  []string // for bash: nlfs first on PATH, and the variables set so far
	page int64
	// mu guards dir, temps and shell, which the interrupt handler reads while the demo may be
	// setting them. temps are the files that mktemp made for the demo, removed however it ends;
	// shell is the command running now, killed before the mount is taken away under it (it
	// would write into the bare directory).
	mu    sync.Mutex
	temps []string
	shell *exec.Cmd
	// ended: the interrupt handler is taking the mount away; no command starts after that
	// (one would run against the bare directory). Protected by mu.
	ended bool
	// interrupted: a command died of SIGINT or SIGTERM. Protected by mu.
	interrupted bool
}

// noteExit records whether the command that ended with err died of an interrupt.
func (s *session) noteExit(err error) {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && (ws.Signal() == syscall.SIGINT || ws.Signal() == syscall.SIGTERM) {
			s.mu.Lock()
			s.interrupted = true
			s.mu.Unlock()
		}
	}
}

// interruptedCommand tells whether a command of the demo died of SIGINT or SIGTERM.
func (s *session) interruptedCommand() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.interrupted
}

// errEnded is what a command gets that would start after the demo was interrupted.
var errEnded = errors.New("demo: interrupted")

// end stops the session: the running command, if any, is returned for the caller to end, and
// no command starts after this.
func (s *session) end() (dir string, temps []string, shell *exec.Cmd) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ended = true
	return s.dir, s.temps, s.shell
}

// start starts c as the demo's running command, in a process group of its own (demo.run).
func (s *session) start(c *exec.Cmd) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if s.ended {
		return errEnded
	}
	s.shell = c
	return c.Start()
}

// done says the running command has ended.
func (s *session) done() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shell = nil
}

// run prints cmd as typed, runs it with bash and prints what it printed (stdout and stderr, as
// a terminal would show them). comment, if any, is printed after the command as a shell comment.
// A command that fails fails the demo, with what it said.
func (s *session) run(cmd, comment string) (string, error) {
	shown := cmd
	if comment != "" {
		shown += "   # " + comment
	}
	s.mu.Lock()
	ended := s.ended
	s.mu.Unlock()
	if ended {
		return "", errEnded
	}
	fmt.Fprintf(s.out, "$ %s\n", shown)
	c := exec.Command("bash", "-c", cmd)
	c.Env = s.env
	var buf bytes.Buffer
	c.Stdout, c.Stderr = &buf, &buf
	err := s.start(c)
	if err == nil {
		err = c.Wait()
	}
	s.noteExit(err)
	s.done()
	out := buf.Bytes()
	s.out.Write(out)
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
		return string(out), fmt.Errorf("demo: %s: %v: %s", cmd, err, strings.TrimPrefix(msg, "nlfs: "))
	}
	return string(out), nil
}

// let sets a shell variable to what cmd prints, as `name=$(cmd)` does, and says its value.
func (s *session) let(name, cmd string) error {
	fmt.Fprintf(s.out, "$ %s=$(%s)\n", name, cmd)
	c := exec.Command("bash", "-c", cmd)
	c.Env = s.env
	c.Stderr = s.out
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // as start does
	out, err := c.Output()
	s.noteExit(err)
	if err != nil {
		return fmt.Errorf("demo: %s: %w", cmd, err)
	}
	value := strings.TrimSpace(string(out))
	s.env = append(s.env, name+"="+value)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case name == "d":
		s.dir = value
	case strings.HasPrefix(cmd, "mktemp -t"):
		s.temps = append(s.temps, value)
	}
	s.say(fmt.Sprintf("%s is %s", name, value))
	return nil
}

// say prints lines of narration: what the kernel did, worked out from what the mount shows.
func (s *session) say(lines ...string) {
	for _, l := range lines {
		fmt.Fprintf(s.out, "# %s\n", l)
	}
}

func (s *session) path(name string) string { return filepath.Join(s.dir, name) }

// layout writes a one-line layout and reads it back.
func (s *session) layout(text string) error {
	if _, err := s.run(fmt.Sprintf("echo '%s' > $d/layout", text), ""); err != nil {
		return err
	}
	// bash does not report an error at close (where a layout is refused): status does.
	if st, _ := os.ReadFile(s.path("status")); !bytes.Contains(st, []byte("\nlast_error: none\n")) {
		return fmt.Errorf("demo: layout %q refused: %s", text, st)
	}
	return s.readLayout(text)
}

// readLayout shows the layout in force and, when it is not what was written (written, "" for a
// layout written by a command), says why.
func (s *session) readLayout(written string) error {
	got, err := s.run("cat $d/layout", "")
	if err != nil {
		return err
	}
	if written != "" && strings.TrimSpace(got) != written {
		s.say(fmt.Sprintf("%q reads back as %q, the same view in canonical form: each longest stretch of", written, strings.TrimSpace(got)),
			"pages going up or down by one as a range, equal neighbours folded with * (a range",
			"going down, such as 2-0, is still one run per page: a run goes up by one)")
	}
	return nil
}

// lettersCmd prints the first byte of each page of a file, one letter per page.
func (s *session) lettersCmd(file string) string {
	return fmt.Sprintf("fold -b -w %d $d/%s | cut -c 1 | paste -sd ' '", s.page, file)
}

// showView prints the first byte of each page of a file of the mount and, for a few pages, says
// which store page each view page shows; while named views exist, it says which view it means.
func (s *session) showView(file string) error {
	comment := "the first byte of each page"
	if file == "data" {
		comment += " of the store"
	}
	if _, err := s.run(s.lettersCmd(file), comment); err != nil {
		return err
	}
	if file == "data" || !strings.HasSuffix(file, "view") {
		return nil
	}
	pages, letters, err := s.pagesOf(file)
	if err != nil || len(pages) > 4 {
		return err
	}
	var parts []string
	for v, f := range pages {
		parts = append(parts, fmt.Sprintf("view page %d shows store page %d (%c)", v, f, letters[v]))
	}
	claim := strings.Join(parts, ", ")
	if named, _ := os.ReadDir(s.path("views")); len(named) > 0 {
		name := "the main view"
		if file != "view" {
			name = strings.TrimSuffix(file, "/view")
		}
		claim = name + ": " + claim
	}
	s.say(claim)
	return nil
}

// writePage writes one page of letter c at page p of a file of the mount with dd.
func (s *session) writePage(file string, p int64, c byte) error {
	seek := ""
	if p > 0 {
		seek = fmt.Sprintf(" seek=%d", p)
	}
	_, err := s.run(fmt.Sprintf("head -c %d /dev/zero | tr '\\0' %c | dd of=$d/%s bs=%d%s conv=notrunc status=none", s.page, c, file, s.page, seek),
		fmt.Sprintf("write page %d of %s only", p, file))
	return err
}

// ringWrite writes a 2-page record (a page of X, a page of Y) at view page 3 through a shared
// writable mapping of view, as a ring buffer's producer does, and says so with the calls.
func (s *session) ringWrite() error {
	pg := s.page
	s.say("A producer writes a 2-page record at view page 3, across the seam between the two copies,",
		"through a mapping, as ring buffers do. No shell command stores through a mapping, so this",
		"demo's own code makes the calls:",
		fmt.Sprintf("  fd = open(\"$d/view\", O_RDWR); p = mmap(NULL, 8 * %d, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0)", pg),
		fmt.Sprintf("  memset(p + 3 * %d, 'X', %d); memset(p + 4 * %d, 'Y', %d)", pg, pg, pg, pg),
		fmt.Sprintf("  msync(p, 8 * %d, MS_SYNC); munmap(p, 8 * %d); close(fd)", pg, pg))
	f, err := os.OpenFile(s.path("view"), os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer f.Close()
	m, err := unix.Mmap(int(f.Fd()), 0, int(8*pg), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("demo: mmap view: %w", err)
	}
	copy(m[3*pg:4*pg], bytes.Repeat([]byte{'X'}, int(pg)))
	copy(m[4*pg:5*pg], bytes.Repeat([]byte{'Y'}, int(pg)))
	err = unix.Msync(m, unix.MS_SYNC)
	if uerr := unix.Munmap(m); err == nil {
		err = uerr
	}
	if err != nil {
		return fmt.Errorf("demo: write through the mapping: %w", err)
	}
	return f.Close()
}
