package main

// The demos' lifecycle: this binary first on PATH for the commands, the mount made and always
// taken away (an early end, a closed pipe, Ctrl-C), --web's wait for Ctrl-C.

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/nlfs/nlfs/remapper"
)

// run runs the demo d, writing its transcript to out; with web it mounts with the live page and
// stays mounted until Ctrl-C.
func (d demo) run(out io.Writer, web bool) (err error) {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("demo: find own executable: %w", err)
	}
	if _, err := exec.LookPath("bash"); err != nil {
		return fmt.Errorf("demo: the demos run their commands with bash, which is missing: %w", err)
	}
	// The commands say "nlfs": this very binary, first on PATH (go run builds it in a temporary
	// directory, and another nlfs on PATH may be older).
	bin, err := os.MkdirTemp("", "nlfs-demo-bin-")
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer os.RemoveAll(bin)
	if err := os.Symlink(exe, filepath.Join(bin, "nlfs")); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	s := &session{out: out, page: remapper.PageSize()}
	s.env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "LC_ALL=C")

	// The mount must not outlive the demo: a reader that stops early (`nlfs demo | head`) must
	// not kill it with SIGPIPE, and Ctrl-C (even while mounting) unmounts before leaving.
	signal.Ignore(syscall.SIGPIPE)
	interrupted := make(chan os.Signal, 1)
	signal.Notify(interrupted, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(interrupted)
	// With --web the demo ends by waiting for Ctrl-C: that one is the way out, not an
	// interruption. The demo's commands run in a process group of their own, which Ctrl-C at
	// the terminal does not reach: the interrupt is the demo's alone to handle, and its exit
	// code is 130 however far the demo had got (a command that died of it would fail the demo
	// with "signal: interrupt" instead, racing the handler).
	var waiting, interruptedNow atomic.Bool
	stop := make(chan struct{})
	cleanup := func() {
		dir, temps, shell := s.end()
		if shell != nil && shell.Process != nil {
			syscall.Kill(-shell.Process.Pid, syscall.SIGKILL) // its process group: bash and what it runs
		}
		for _, t := range temps {
			os.Remove(t)
		}
		if dir == "" {
			return
		}
		if _, mounted := mountAt(dir); mounted {
			if umount(dir, false) != nil {
				umount(dir, true)
			}
		}
		if _, mounted := mountAt(dir); !mounted {
			os.RemoveAll(dir) // the demo's own temporary directory
		}
	}
	// abort ends an interrupted demo, once: a second caller waits for the first's exit.
	abort := sync.OnceFunc(func() {
		interruptedNow.Store(true)
		cleanup()
		os.RemoveAll(bin)
		os.Exit(130)
	})
	go func() {
		if _, ok := <-interrupted; ok {
			if waiting.Load() {
				close(stop)
				return
			}
			abort()
		}
	}()

	defer func() {
		switch {
		// A command failed as the handler ended it; or the interrupt reached a command too (it
		// was being started, not yet in its own process group) and this goroutine saw it die
		// before the handler saw the signal.
		case err != nil && (interruptedNow.Load() || s.interruptedCommand()):
			abort()
		case err != nil:
			cleanup()
		}
	}()
	fmt.Fprintf(out, "nlfs demo %s — %s\n\n%s\n\n", d.name, d.summary, d.explain)
	if err := s.let("d", "mktemp -d -t nlfs-demo-XXXXXX"); err != nil {
		return err
	}
	mount := fmt.Sprintf("nlfs mount --pages %d $d", d.pages)
	if web {
		mount = fmt.Sprintf("nlfs mount --pages %d --http 127.0.0.1:0 $d", d.pages)
	}
	if _, err := s.run(mount, ""); err != nil {
		return mountErrorf("%s", strings.TrimPrefix(err.Error(), "demo: "))
	}
	var letters []string
	for i := range d.pages {
		letters = append(letters, string(rune('A'+i%26)))
	}
	if _, err := s.run(fmt.Sprintf("for c in %s; do head -c %d /dev/zero | tr '\\0' $c; done > $d/data", strings.Join(letters, " "), s.page), ""); err != nil {
		return err
	}
	if err := d.show(s); err != nil {
		return err
	}
	if web {
		if _, err := s.run("nlfs web $d", ""); err != nil {
			return err
		}
		s.say("The demo stays mounted, its live page served at the address above: open it, and",
			"try the commands above in another shell (d="+s.dir+"). Ctrl-C unmounts.")
		waiting.Store(true)
		<-stop
	}
	if _, err := s.run("nlfs umount $d", ""); err != nil {
		return err
	}
	_, err = s.run("rmdir $d", "")
	return err
}
