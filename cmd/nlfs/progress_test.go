package main

// Long work shows progress on stderr when it is a terminal, and nothing
// when it is not: loading a --source of more than 256 MiB (in a mount, the
// daemon's; drawn by nlfs mount on its caller's terminal) and nlfs apply.

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/creack/pty"

	"github.com/nlfs/nlfs/internal/testenv"
)

// runWithStderr runs cmd with stderr on a pseudo-terminal (tty) or a pipe,
// and returns what it wrote there.
func runWithStderr(t *testing.T, cmd *exec.Cmd, tty bool) (string, result) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	read := make(chan string, 1)
	if tty {
		ptmx, term, err := pty.Open()
		if err != nil {
			t.Fatal(err)
		}
		defer ptmx.Close()
		cmd.Stderr = term
		defer term.Close() // once started, only the child holds it open
		go func() { b, _ := io.ReadAll(ptmx); read <- string(b) }()
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if tty {
		cmd.Stderr.(*os.File).Close()
	}
	err := cmd.Wait()
	r := result{stdout: out.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	}
	if tty {
		return <-read, r // the terminal's end of file: its last holder closed it
	}
	return errb.String(), r
}

func TestProgress(t *testing.T) {
	testenv.RequireFUSE(t)
	tmp := t.TempDir()
	big := filepath.Join(tmp, "big") // sparse: 300 MiB that cost no disk
	if err := os.WriteFile(big, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, 300<<20); err != nil {
		t.Fatal(err)
	}
	small := filepath.Join(tmp, "small")
	os.WriteFile(small, make([]byte, 4096), 0o644)
	identity := filepath.Join(tmp, "identity")
	os.WriteFile(identity, []byte("# the identity\n"), 0o644)

	for _, c := range []struct {
		name  string
		args  func() []string
		tty   bool
		wants []string // on stderr, in order; none: stderr empty
	}{
		{"mount, terminal", func() []string { return []string{"mount", "--source", big, t.TempDir()} }, true,
			[]string{"nlfs: loading " + big, "100%", "300/300 MiB"}},
		{"mount, pipe", func() []string { return []string{"mount", "--source", big, t.TempDir()} }, false, nil},
		{"mount, small source, terminal", func() []string { return []string{"mount", "--source", small, t.TempDir()} }, true, nil},
		{"apply, terminal", func() []string { return []string{"apply", "--layout", identity, "--source", big, "-o", "/dev/null"} }, true,
			[]string{"nlfs: writing the view", "100%"}},
		{"apply, pipe", func() []string { return []string{"apply", "--layout", identity, "--source", big, "-o", "/dev/null"} }, false, nil},
		{"apply, stdin, terminal", func() []string {
			return []string{"apply", "--layout", identity, "-o", "/dev/null"}
		}, true, []string{"nlfs: loading -", "nlfs: writing the view", "100%"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := c.args()
			cmd := exec.Command(nlfsBin, args...)
			if !slices.Contains(args, "--source") {
				in, err := os.Open(big)
				if err != nil {
					t.Fatal(err)
				}
				defer in.Close()
				// Through a pipe: a size not known ahead.
				cmd.Stdin = io.MultiReader(in)
			}
			stderr, r := runWithStderr(t, cmd, c.tty)
			if r.code != 0 {
				t.Fatalf("exit %d: %q", r.code, stderr)
			}
			if args[0] == "mount" {
				nlfs(t, "", "umount", args[len(args)-1])
			}
			if len(c.wants) == 0 && stderr != "" {
				t.Errorf("stderr %q, want nothing", stderr)
			}
			at := 0
			for _, w := range c.wants {
				i := strings.Index(stderr[at:], w)
				if i < 0 {
					t.Fatalf("stderr lacks %q after offset %d: %q", w, at, stderr)
				}
				at += i + len(w)
			}
		})
	}
}
