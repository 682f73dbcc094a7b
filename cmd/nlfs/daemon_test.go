package main

// The background daemon: re-run with the user's own arguments, found through
// its pid file whatever the order of those arguments, and waited for by
// nlfs umount.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
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
