package main

// nlfs apply never harms its input: everything is checked before OUT is
// touched, the view is written beside OUT and renamed over it, and any
// failure (a refused layout, an unreadable source, a directory it cannot
// write in, a full disk, Ctrl-C) leaves OUT byte for byte as it was and no
// file behind.

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nlfs/nlfs/internal/testenv"
)

// letterPages makes pages of 4 KiB, page i filled with letters[i].
func letterPages(letters string) []byte {
	var b []byte
	for _, c := range letters {
		b = append(b, bytes.Repeat([]byte{byte(c)}, 4096)...)
	}
	return b
}

// dirNames lists dir, hidden files included.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// tmpfsDir mounts a tmpfs of size bytes on a new directory for the test (root only).
func tmpfsDir(t *testing.T, size string) string {
	t.Helper()
	testenv.RequireRoot(t, "mount")
	dir := t.TempDir()
	sh(t, "mount -t tmpfs -o size="+size+" nlfs-apply-test "+dir)
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

func TestApplyKeepsOutput(t *testing.T) {
	src := letterPages("ABCD")
	for _, c := range []struct {
		name   string
		layout string
		source func(dir string) string // the --source argument
		out    func(t *testing.T) string
		code   int
		part   string
	}{
		{"refused layout", "0 1\nremap 0 2 3\n", nil, nil, exitLayout, "line 2, column 11: page 4 is past the end of data (4 pages)"},
		{"short source", "0 1 2 3 4 5\n", nil, nil, exitLayout, "page 4 is past the end of data (4 pages)"},
		{"view over the maximum", "0*99999999999", nil, nil, exitLayout, "over the maximum"},
		{"source a directory", "0", func(dir string) string { return dir }, nil, exitUsage, "is a directory"},
		{"source missing", "0", func(dir string) string { return filepath.Join(dir, "nosuch") }, nil, exitUsage, "no such file"},
		{"read-only directory", "3-0", nil, func(t *testing.T) string {
			dir := tmpfsDir(t, "1m")
			os.WriteFile(filepath.Join(dir, "out"), []byte("precious\n"), 0o644)
			sh(t, "mount -o remount,ro "+dir)
			return filepath.Join(dir, "out")
		}, exitFailure, "cannot make the new file beside it"},
		{"full disk", "3-0*8", nil, func(t *testing.T) string {
			dir := tmpfsDir(t, "64k")
			os.WriteFile(filepath.Join(dir, "out"), []byte("precious\n"), 0o644)
			return filepath.Join(dir, "out")
		}, exitFailure, "write the view: no space left on device (OUT is unchanged)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "src"), src, 0o644)
			lay := filepath.Join(dir, "layout")
			os.WriteFile(lay, []byte(c.layout), 0o644)
			out := filepath.Join(dir, "out")
			if c.out != nil {
				out = c.out(t)
			} else {
				os.WriteFile(out, []byte("precious\n"), 0o644)
			}
			source := filepath.Join(dir, "src")
			if c.source != nil {
				source = c.source(dir)
			}
			before := dirNames(t, filepath.Dir(out))
			r := nlfs(t, "", "apply", "--layout", lay, "--source", source, "-o", out)
			checkOneLine(t, r, c.code, strings.ReplaceAll(c.part, "OUT", quote(out)))
			if got, _ := os.ReadFile(out); string(got) != "precious\n" {
				t.Errorf("OUT is now %d bytes %.20q, want it unchanged", len(got), got)
			}
			if after := dirNames(t, filepath.Dir(out)); !slices.Equal(after, before) {
				t.Errorf("OUT's directory held %q, now %q", before, after)
			}
		})
	}
}

// TestApplyOverSource: -o may name the source, as with sort -o: the file becomes the view of
// its old bytes, keeping its mode; a new OUT gets 0666 less the umask; a symbolic link stays
// one, its target replaced.
func TestApplyOverSource(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	os.WriteFile(f, letterPages("ABCD"), 0o640)
	os.Chmod(f, 0o640)
	lay := filepath.Join(dir, "layout")
	os.WriteFile(lay, []byte("3 1 1 0\n"), 0o644)
	if r := nlfs(t, "", "apply", "--layout", lay, "--source", f, "-o", f); r.code != 0 {
		t.Fatalf("apply --source f -o f: exit %d: %s", r.code, r.stderr)
	}
	if got, _ := os.ReadFile(f); !bytes.Equal(got, letterPages("DBBA")) {
		t.Errorf("f is %d bytes, not pages D B B A of its old bytes", len(got))
	}
	if fi, _ := os.Stat(f); fi.Mode().Perm() != 0o640 {
		t.Errorf("f's mode is now %v, want -rw-r-----", fi.Mode())
	}
	link := filepath.Join(dir, "link")
	os.Symlink("f", link)
	if r := nlfs(t, "", "apply", "--layout", lay, "--source", link, "-o", link); r.code != 0 {
		t.Fatalf("apply through a link: exit %d: %s", r.code, r.stderr)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link is no longer one: %v %v", fi.Mode(), err)
	}
	if got, _ := os.ReadFile(f); !bytes.Equal(got, letterPages("ABBD")) {
		t.Errorf("through the link, f is not pages A B B D")
	}
	if r := shResult(t, "umask 027 && "+nlfsBin+" apply --layout "+lay+" --source "+f+" -o "+filepath.Join(dir, "new")); r.code != 0 {
		t.Fatalf("apply to a new file: exit %d: %s", r.code, r.stderr)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "new")); fi.Mode().Perm() != 0o640 {
		t.Errorf("a new OUT under umask 027 is %v, want -rw-r-----", fi.Mode())
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"f", "layout", "link", "new"}) {
		t.Errorf("the directory holds %q", names)
	}
}

// TestApplyInterrupted: Ctrl-C while apply writes a big view leaves OUT as it was and no
// file beside it, and apply ends as the signal says. apply is stopped (SIGSTOP) the moment
// its new file has bytes, to be sure the signal comes mid-copy.
func TestApplyInterrupted(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.WriteFile(src, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	const pages = 65536 // 256 MiB: a copy of several tenths of a second
	os.Truncate(src, pages*4096)
	lay := filepath.Join(dir, "layout")
	sh(t, nlfsBin+" layout gen reverse 65536 > "+lay)
	out := filepath.Join(dir, "out")
	for attempt := 1; ; attempt++ {
		os.WriteFile(out, []byte("precious\n"), 0o644)
		cmd := exec.Command(nlfsBin, "apply", "--layout", lay, "--source", src, "-o", out)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		tmp := ""
		waitFor(t, "apply's new file, with bytes in it", 20*time.Second, func() bool {
			for _, n := range dirNames(t, dir) {
				if fi, err := os.Stat(filepath.Join(dir, n)); strings.HasPrefix(n, ".out.nlfs-") && err == nil && fi.Size() > 0 {
					tmp = n
					return true
				}
			}
			return len(exited) > 0
		})
		cmd.Process.Signal(syscall.SIGSTOP)
		if _, err := os.Stat(filepath.Join(dir, tmp)); tmp == "" || err != nil {
			// The copy ended before the stop: try again.
			cmd.Process.Signal(syscall.SIGCONT)
			<-exited
			if attempt == 5 {
				t.Fatal("apply finished before it could be stopped, 5 times")
			}
			continue
		}
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Process.Signal(syscall.SIGCONT)
		var err error
		select {
		case err = <-exited:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			t.Fatal("apply did not end within 20 s of SIGINT")
		}
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGINT {
			t.Errorf("apply after SIGINT: %v, want killed by SIGINT", err)
		}
		if got, _ := os.ReadFile(out); string(got) != "precious\n" {
			t.Errorf("OUT is now %d bytes, want it unchanged", len(got))
		}
		if names := dirNames(t, dir); !slices.Equal(names, []string{"layout", "out", "src"}) {
			t.Errorf("after SIGINT the directory holds %q", names)
		}
		return
	}
}

// TestApplyReadsWhatTheLayoutNeeds: a source is read as far as the layout reads it. A stream
// that never ends (/dev/zero) gives a layout of pages 3-0 its four pages (one with no entries,
// the whole stream, is refused past a quarter of the memory: too much to try here); four pages of a 64 GiB sparse file map four pages, not 64 GiB (the peak resident
// memory of the run says which). A relative OUT gets its new file beside it, not in $TMPDIR (a
// rename across filesystems fails).
func TestApplyReadsWhatTheLayoutNeeds(t *testing.T) {
	dir := t.TempDir()
	lay := filepath.Join(dir, "lay")
	os.WriteFile(lay, []byte("3-0\n"), 0o644)

	run := func(args ...string) (result, int64) {
		t.Helper()
		cmd := exec.Command(nlfsBin, append([]string{"apply", "--layout", lay}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "TMPDIR="+filepath.Join(dir, "no-such-directory"))
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-done:
			case <-time.After(2 * time.Minute):
				cmd.Process.Kill() // a source read to its end would never end
			}
		}()
		r := runCmd(t, cmd)
		return r, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10
	}

	r, _ := run("--source", "/dev/zero", "-o", "zero4")
	if got, _ := os.ReadFile(filepath.Join(dir, "zero4")); r.code != 0 || !bytes.Equal(got, make([]byte, 4*4096)) {
		t.Errorf("apply 3-0 of /dev/zero to a relative OUT: exit %d %s, %d bytes written", r.code, r.stderr, len(got))
	}

	huge := filepath.Join(dir, "huge")
	if err := os.WriteFile(huge, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(huge, 64<<30); err != nil {
		t.Fatalf("a 64 GiB sparse file: %v", err)
	}
	r, rss := run("--source", huge, "-o", "huge4")
	if got, _ := os.ReadFile(filepath.Join(dir, "huge4")); r.code != 0 || !bytes.Equal(got, make([]byte, 4*4096)) {
		t.Errorf("apply 3-0 of a 64 GiB sparse file: exit %d %s, %d bytes written", r.code, r.stderr, len(got))
	}
	if rss > 256<<20 {
		t.Errorf("apply of four pages of a 64 GiB file peaked at %d MiB resident, want the four pages' worth", rss>>20)
	}
}
