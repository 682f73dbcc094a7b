package main

// The background daemon: re-run with the user's own arguments, found through
// its pid file whatever the order of those arguments, and waited for by
// nlfs umount.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
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

func TestDaemon(t *testing.T) {
	testenv.RequireFUSE(t)
	for _, c := range []struct {
		name string
		args func(dir string) []string // after "mount"
	}{
		{"mountpoint last", func(dir string) []string { return []string{"--pages", "2", dir} }},
		{"mountpoint first", func(dir string) []string { return []string{dir, "--pages", "2"} }},
		{"after --", func(dir string) []string { return []string{"--pages=2", "--", dir} }},
		{"options", func(dir string) []string { return []string{"-o", "pages=2,backend=mmap", dir} }},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"mount"}, c.args(dir)...)
			r := nlfs(t, "", args...)
			if r.code != 0 {
				t.Fatalf("nlfs %v: exit %d: %s", args, r.code, r.stderr)
			}
			t.Cleanup(func() { checkNoMount(t, dir) })
			pid := daemonPid(t, r.stdout)
			// The user's own arguments, after what the daemon needs.
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			want := append([]string{nlfsBin, "--foreground", "--ready-fd=3"}, args...)
			if got := strings.Split(strings.TrimSuffix(string(cmdline), "\x00"), "\x00"); !slices.Equal(got, want) {
				t.Errorf("daemon command line %q, want %q", got, want)
			}
			if cwd, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid)); cwd != "/" {
				t.Errorf("daemon's working directory %q, want /", cwd)
			}
			if got := findDaemon(dir); got != pid {
				t.Errorf("pid file names %d, want the daemon %d", got, pid)
			}
			if r := nlfs(t, "", "umount", dir); r.code != 0 {
				t.Fatalf("nlfs umount: %d %s", r.code, r.stderr)
			}
			if !processGone(pid, 0) {
				t.Error("nlfs umount returned before its daemon exited")
			}
			if _, err := os.Stat(pidFile(dir)); err == nil {
				t.Error("the daemon left its pid file")
			}
		})
	}

	t.Run("relative paths", func(t *testing.T) {
		tmp := t.TempDir()
		os.Mkdir(filepath.Join(tmp, "m"), 0o755)
		os.WriteFile(filepath.Join(tmp, "src"), make([]byte, 3*4096), 0o644)
		os.WriteFile(filepath.Join(tmp, "lay"), []byte("2 1 0\n"), 0o644)
		cmd := exec.Command(nlfsBin, "mount", "--source", "src", "--layout", "lay", "m")
		cmd.Dir = tmp
		r := runCmd(t, cmd)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		dir := filepath.Join(tmp, "m")
		t.Cleanup(func() { nlfs(t, "", "umount", "--lazy", dir) })
		if got := sh(t, "cat "+dir+"/layout; grep data_bytes "+dir+"/status"); got != "2-0\ndata_bytes: 12288\n" {
			t.Errorf("mount from relative paths: %q", got)
		}
		if cwd, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", daemonPid(t, r.stdout))); cwd != "/" {
			t.Errorf("daemon's working directory %q, want /", cwd)
		}
	})

	t.Run("foreground", func(t *testing.T) {
		dir := t.TempDir()
		cmd := exec.Command(nlfsBin, "mount", dir, "-f")
		var stderr syncBuffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); checkNoMount(t, dir) })
		waitFor(t, "the foreground mount", 10*time.Second, func() bool { return strings.Contains(stderr.String(), "serving") })
		if got := findDaemon(dir); got != cmd.Process.Pid {
			t.Errorf("pid file names %d, want the foreground nlfs %d", got, cmd.Process.Pid)
		}
		if r := nlfs(t, "", "umount", dir); r.code != 0 {
			t.Fatalf("nlfs umount: %d %s", r.code, r.stderr)
		}
		if !processGone(cmd.Process.Pid, 0) {
			t.Error("nlfs umount returned before the foreground nlfs exited")
		}
	})

	t.Run("killed", func(t *testing.T) {
		dir, pid := mountDir(t, "--pages", "2")
		kill9(t, pid)
		// Its pid file stays, naming a process that is gone.
		if _, err := os.Stat(pidFile(dir)); err != nil {
			t.Fatal(err)
		}
		if got := findDaemon(dir); got != 0 {
			t.Errorf("a killed daemon's pid file gives %d", got)
		}
		if r := nlfs(t, "", "umount", dir); r.code != 0 || isMounted(dir) {
			t.Fatalf("nlfs umount of the dead mount: %d %s", r.code, r.stderr)
		}
		if _, err := os.Stat(pidFile(dir)); err == nil {
			t.Error("nlfs umount left the killed daemon's pid file")
		}
	})
}

// TestPidFile: a pid file counts only while the process that wrote it, and
// no other with its pid, is alive.
func TestPidFile(t *testing.T) {
	mnt := filepath.Join(t.TempDir(), "my mount")
	t.Cleanup(func() { os.Remove(pidFile(mnt)) })
	if err := writePidFile(mnt); err != nil {
		t.Fatal(err)
	}
	if pid, err := readPidFile(mnt); pid != os.Getpid() || err != nil {
		t.Errorf("own pid file: %d %v", pid, err)
	}
	start, _ := startTime(os.Getpid())
	os.WriteFile(pidFile(mnt), fmt.Appendf(nil, "%d %d\n", os.Getpid(), start+1), 0o644)
	if pid, _ := readPidFile(mnt); pid != 0 {
		t.Errorf("a pid file whose start time is not the process's gives %d", pid)
	}
	os.WriteFile(pidFile(mnt), []byte("junk\n"), 0o644)
	if pid, err := readPidFile(mnt); pid != 0 || err == nil {
		t.Errorf("a junk pid file: %d %v", pid, err)
	}
	removePidFile(mnt) // not ours any more: it stays
	if _, err := os.Stat(pidFile(mnt)); err != nil {
		t.Errorf("removePidFile removed another's file: %v", err)
	}
}

func TestEscapePath(t *testing.T) {
	for _, c := range []struct{ path, want string }{
		{"/", "-"},
		{"/tmp/v", "tmp-v"},
		{"/mnt/my view/", `mnt-my\x20view`},
		{"/a-b/.c/d.e", `a\x2db-.c-d.e`},
		{"/.hidden", `\x2ehidden`},
		{"/x/../y", "y"},
	} {
		if got := escapePath(c.path); got != c.want {
			t.Errorf("escapePath(%q) = %q, want %q", c.path, got, c.want)
		}
	}
}

// TestUmountOnlyNlfs: nlfs umount leaves other filesystems alone.
func TestUmountOnlyNlfs(t *testing.T) {
	testenv.RequireRoot(t, "mount", "umount")
	dir := t.TempDir()
	sh(t, "mount -t tmpfs nlfs-test "+dir)
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	checkOneLine(t, nlfs(t, "", "umount", dir), exitMountpoint, "is not an nlfs mount (it is tmpfs); use umount(8)")
	if m, ok := mountAt(dir); !ok || m.FSType != "tmpfs" {
		t.Errorf("nlfs umount changed the tmpfs mount: %v", m)
	}
}

// nlfsWithin runs nlfs with args and fails the test if it has not returned within d (it is
// then killed).
func nlfsWithin(t *testing.T, d time.Duration, args ...string) result {
	t.Helper()
	cmd := exec.Command(nlfsBin, args...)
	timer := time.AfterFunc(d, func() { cmd.Process.Kill() })
	start := time.Now()
	r := runCmd(t, cmd)
	if !timer.Stop() {
		t.Fatalf("nlfs %q did not return within %v (killed after %v; stderr %q)", args, d, time.Since(start).Round(time.Millisecond), r.stderr)
	}
	return r
}

// nonTmpfsDir is a new directory on a file system other than tmpfs: the temporary directory
// when it is one, else one beside the test's sources.
func nonTmpfsDir(t *testing.T) string {
	t.Helper()
	for _, base := range []string{os.TempDir(), "."} {
		var st syscall.Statfs_t
		if syscall.Statfs(base, &st) == nil && st.Type != 0x01021994 { // TMPFS_MAGIC
			dir, err := os.MkdirTemp(base, "nlfs-test-")
			if err != nil {
				t.Fatal(err)
			}
			abs, _ := filepath.Abs(dir)
			t.Cleanup(func() { os.RemoveAll(abs) })
			return abs
		}
	}
	t.Fatal("no directory outside tmpfs for the test")
	return ""
}

// TestReadyPipeFramed: what the daemon tells nlfs mount reaches it whole whatever bytes it
// holds, and nlfs mount returns: notes and a refusal that name a store path with a newline
// (quoted onto one line), and a refusal that holds a raw newline (the error of a saved state
// that cannot be made, in the system's words, which name the path as it is).
func TestReadyPipeFramed(t *testing.T) {
	testenv.RequireFUSE(t)
	store := filepath.Join(nonTmpfsDir(t), "a\nstore")
	mnt := t.TempDir()
	t.Cleanup(func() { checkNoMount(t, mnt) })
	r := nlfsWithin(t, 30*time.Second, "mount", "--store", store, "--pages", "2", mnt)
	if r.code != 0 {
		t.Fatalf("mount: exit %d: %q", r.code, r.stderr)
	}
	if want := "nlfs: store " + quote(store) + " is not on tmpfs"; !strings.HasPrefix(r.stderr, want) {
		t.Errorf("mount said %q, want it to begin %q", r.stderr, want)
	}
	daemonPid(t, r.stdout)

	// A second daemon for the store is refused in a message naming the store.
	other := t.TempDir()
	t.Cleanup(func() { checkNoMount(t, other) })
	r = nlfsWithin(t, 30*time.Second, "mount", "--store", store, other)
	if r.code != exitStore || !strings.Contains(r.stderr, quote(store)) || !strings.Contains(r.stderr, quote(mnt)) {
		t.Errorf("a second mount of the store: exit %d, %q; want %d naming the store and the first daemon's mount", r.code, r.stderr, exitStore)
	}
	if r := nlfsWithin(t, 30*time.Second, "umount", mnt); r.code != 0 {
		t.Fatalf("umount: exit %d: %s", r.code, r.stderr)
	}

	// The saved views' directory made a file: the refusal says why in the words of the
	// error, which name the path with its newline.
	views := filepath.Join(store+".nlfs", "views")
	if err := os.RemoveAll(views); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(views, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	r = nlfsWithin(t, 30*time.Second, "mount", "--store", store, mnt)
	if want := "nlfs: set up store: store " + quote(store) + ": mkdir " + views + ": not a directory\n"; r.code != exitFailure || !strings.HasSuffix(r.stderr, want) {
		t.Errorf("mount over a store whose views are a file: exit %d, %q; want %d ending %q", r.code, r.stderr, exitFailure, want)
	}
}

// TestReadFrame: the ready pipe's frames carry any payload; a header that is not one, or a
// payload cut short, is an error, never a wait.
func TestReadFrame(t *testing.T) {
	var b bytes.Buffer
	for _, m := range [][2]string{{"note", "a\nb\x00c"}, {"progress", "1 2"}, {"ready", ""}} {
		writeFrame(&b, m[0], m[1])
	}
	br := bufio.NewReader(&b)
	for _, want := range [][2]string{{"note", "a\nb\x00c"}, {"progress", "1 2"}, {"ready", ""}} {
		kind, payload, err := readFrame(br)
		if err != nil || kind != want[0] || payload != want[1] {
			t.Errorf("readFrame = %q %q %v, want %q %q", kind, payload, err, want[0], want[1])
		}
	}
	if _, _, err := readFrame(br); err != io.EOF {
		t.Errorf("at the end: %v, want EOF", err)
	}
	for _, bad := range []string{"note\n", "note x\n", "note -1\n", "note 99999999999\n", "note 5\nab", "ready 0"} {
		if _, _, err := readFrame(bufio.NewReader(strings.NewReader(bad))); err == nil || err == io.EOF {
			t.Errorf("readFrame(%q) = %v, want an error", bad, err)
		}
	}
}
