package main

// Mount options: -o takes every mount flag and the generic options, and the
// real mount(8) runs nlfs through mount.fuse3 for `mount -t fuse.nlfs` and
// for fstab lines.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/nlfs/nlfs/internal/testenv"
)

// TestMountOptions: each mount flag given as -o name=value (a switch as -o
// name) does what the flag does; generic mount options are accepted; and the
// table covers every flag a user can give.
func TestMountOptions(t *testing.T) {
	testenv.RequireFUSE(t)
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	os.WriteFile(src, make([]byte, 5*4096), 0o644)
	lay := filepath.Join(tmp, "rev")
	os.WriteFile(lay, []byte("2-0\n"), 0o644)
	cases := []struct {
		flag   string
		option string
		check  string // a shell command on the mount ($1) and what it prints
		want   string
	}{
		{"pages", "pages=3", `grep data_pages "$1/status"`, "data_pages: 3\n"},
		{"source", "source=" + src, `grep data_bytes "$1/status"`, "data_bytes: 20480\n"},
		{"layout", "pages=3,layout=" + lay, `cat "$1/layout"`, "2-0\n"},
		{"store", "store=" + filepath.Join(tmp, "store"), `grep '^store:' "$1/status"`, "store: " + filepath.Join(tmp, "store") + "\n"},
		{"size", "size=64K", `grep size_limit "$1/status"`, "size_limit: 65536\n"},
		{"backend", "backend=gather", `grep '^backend:' "$1/status"`, "backend: gather\n"},
		{"http", "http=127.0.0.1:0", `grep -c '^web: http://127.0.0.1:[0-9]*/$' "$1/status"; stat -c %a "$1/web"`, "1\n400\n"},
		{"max-view-pages", "max_view_pages=8", `printf '0*9' | dd of="$1/layout" status=none 2>/dev/null; grep -o 'over the maximum of 8' "$1/status"`, "over the maximum of 8\n"},
		{"allow-other", "allow_other", `grep -c "$1 .*allow_other" /proc/self/mountinfo`, "1\n"},
		{"read-only", "read_only", `grep read_only "$1/status"`, "read_only: yes\n"},
		{"debug", "debug,foreground", "", ""}, // foreground, below
		{"foreground", "foreground", "", ""},
	}
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.flag] = true
		if c.check == "" {
			continue
		}
		t.Run(c.flag, func(t *testing.T) {
			for _, args := range [][]string{{"-o", c.option}, optionFlags(c.option)} {
				dir, pid := mountDir(t, args...)
				if got := shResult(t, fmt.Sprintf(`set -- %q; %s`, dir, c.check)); got.stdout != c.want {
					t.Errorf("mount %v: %q, want %q", args, got.stdout, c.want)
				}
				nlfs(t, "", "umount", dir)
				processGone(pid, 5*time.Second)
			}
		})
	}
	newMountConfig().flags.VisitAll(func(f *pflag.Flag) {
		if !f.Hidden && f.Name != "options" && !covered[f.Name] {
			t.Errorf("mount flag --%s is not tried as a mount option", f.Name)
		}
	})

	// -o debug,foreground: the mount stays attached and logs requests.
	dir := t.TempDir()
	cmd := exec.Command(nlfsBin, "mount", dir, "-o", "debug,foreground")
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); checkNoMount(t, dir) })
	waitFor(t, "the foreground mount", 10*time.Second, func() bool { return strings.Contains(stderr.String(), "serving") })
	os.ReadFile(filepath.Join(dir, "status"))
	if r := nlfs(t, "", "umount", dir); r.code != 0 {
		t.Fatalf("umount: %d %s", r.code, r.stderr)
	}
	if err := cmd.Wait(); err != nil || !strings.Contains(stderr.String(), "LOOKUP") {
		t.Errorf("-o debug,foreground: %v, stderr without requests: %.300q", err, stderr.String())
	}

	// Generic options, as mount(8) and mount.fuse3 pass them.
	dir, _ = mountDir(t, "-o", "rw,nosuid,nodev,noexec,noatime,relatime,_netdev,nofail,x-systemd.automount,x-systemd.requires=a.service,defaults,dev,suid,default_permissions,pages=2")
	if got := sh(t, "grep data_pages "+dir+"/status"); got != "data_pages: 2\n" {
		t.Errorf("with generic options: %q", got)
	}
	r := nlfs(t, "", "mount", "-o", "ro,pages=2", t.TempDir())
	if r.code != 0 || r.stderr != "" {
		t.Errorf("-o ro: exit %d, stderr %q", r.code, r.stderr)
	}
	if got := sh(t, "grep read_only "+daemonMountpoint(t, r.stdout)+"/status"); got != "read_only: yes\n" {
		t.Errorf("-o ro: %q", got)
	}
	nlfs(t, "", "umount", daemonMountpoint(t, r.stdout))

	for _, c := range []struct{ opt, part string }{
		{"frob", "mount: -o frob: unknown mount option"},
		{"pages", "-o pages: needs a value (pages=N)"},
		{"pages=x", "-o pages=x: not a number"},
		{"allow_other=maybe", "-o allow_other=maybe: want true or false"},
		{"ready_fd=3", "-o ready_fd: unknown mount option"},
		{"options=x", "-o options: unknown mount option"},
	} {
		dir := t.TempDir()
		checkOneLine(t, nlfs(t, "", "mount", "-o", c.opt, dir), exitUsage, c.part)
		checkNoMount(t, dir)
	}
}

// optionFlags turns "a=1,b" into the flags --a 1 --b.
func optionFlags(opts string) []string {
	var args []string
	for _, o := range strings.Split(opts, ",") {
		name, value, ok := strings.Cut(o, "=")
		args = append(args, "--"+strings.ReplaceAll(name, "_", "-"))
		if ok {
			args = append(args, value)
		}
	}
	return args
}

// daemonMountpoint returns the mountpoint nlfs mount's line names.
func daemonMountpoint(t *testing.T, stdout string) string {
	t.Helper()
	m := regexp.MustCompile(`serving (\S+) `).FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("nlfs mount did not name its mountpoint: %q", stdout)
	}
	return m[1]
}

// TestMountHelper: the real mount(8) mounts nlfs through mount.fuse3, as
// `mount -t fuse.nlfs none DIR -o pages=3`, as the README's fstab line
// through `mount DIR` (with a fstab of the test's own: /etc/fstab is not
// touched), and with a store path as SOURCE, twice. mount(8) runs helpers without PATH, so /bin/sh finds nlfs in
// its default path: the test binds a directory holding it on
// /usr/local/bin, in a mount namespace of its own.
func TestMountHelper(t *testing.T) {
	testenv.RequireFUSE(t)
	testenv.RequireRoot(t, "mount", "umount", "unshare", "mount.fuse3")
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "bin")
	os.Mkdir(bin, 0o755)
	if out, err := exec.Command("cp", nlfsBin, filepath.Join(bin, "nlfs")).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	mnt := filepath.Join(tmp, "m")
	os.Mkdir(mnt, 0o755)
	fstab := filepath.Join(tmp, "fstab")
	if err := os.WriteFile(fstab, []byte(strings.Replace(fstabLine, "/mnt/nlfs", mnt, 1)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Each mount reports its daemon, status and mount-table line, then is
	// unmounted by umount(8).
	report := `echo "pid $(cut -d' ' -f1 "$PIDFILE")"; grep -E '^(data_pages|backend):' "$M/status"; grep " $M " /proc/self/mountinfo; umount "$M"`
	script := `set -e
mount --bind "$BIN" /usr/local/bin
echo "== mount -t"
mount -t fuse.nlfs none "$M" -o pages=3
` + report + `
echo "== fstab"
mount --fstab "$FSTAB" "$M"
` + report + `
echo "== store path"
mount -t fuse.nlfs "$STORE" "$M" -o pages=3
echo 2-0 > "$M/layout"; printf kept | dd of="$M/data" conv=notrunc status=none
` + report + `
mount -t fuse.nlfs "$STORE" "$M"
echo "data $(head -c 4 "$M/data") layout $(cat "$M/layout")"
` + report + `
`
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "bash", "-c", script)
	store := filepath.Join(tmp, "store")
	cmd.Env = append(os.Environ(), "BIN="+bin, "M="+mnt, "FSTAB="+fstab, "PIDFILE="+pidFile(mnt), "STORE="+store)
	t.Cleanup(func() {
		// A daemon left by a failure holds its namespace, and its mount:
		// both go with it.
		if pid, _ := readPidFile(mnt); pid > 0 {
			syscall.Kill(pid, syscall.SIGKILL)
			os.Remove(pidFile(mnt))
		}
	})
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	parts := strings.Split(string(out), "== ")
	if len(parts) != 4 {
		t.Fatalf("output:\n%s", out)
	}
	for i, want := range []struct{ name, status, opts string }{
		{"mount -t", "data_pages: 3\n", " - fuse.nlfs nlfs rw,"},
		{"fstab", "data_pages: 16\n", "allow_other"},
	} {
		part := parts[i+1]
		if !strings.HasPrefix(part, want.name+"\n") || !strings.Contains(part, want.status) || !strings.Contains(part, " "+mnt+" ") || !strings.Contains(part, want.opts) {
			t.Errorf("%s:\n%s", want.name, part)
		}
		m := regexp.MustCompile(`pid (\d+)`).FindStringSubmatch(part)
		if m == nil {
			t.Fatalf("%s: no daemon pid:\n%s", want.name, part)
		}
		var pid int
		fmt.Sscan(m[1], &pid)
		if !processGone(pid, 5*time.Second) {
			t.Errorf("%s: daemon %d still running after umount(8)", want.name, pid)
		}
	}
	// SOURCE a path: the store is that file, and it outlives the mount.
	if !strings.Contains(parts[3], "data_pages: 3\n") || !strings.Contains(parts[3], "data kept layout 2-0\n") {
		t.Errorf("a store path as SOURCE, mounted twice:\n%s", parts[3])
	}
	if fi, err := os.Stat(store); err != nil || fi.Size() != 3*4096 {
		t.Errorf("the store file: %v, %v", fi, err)
	}
	// The last daemon removes its pid file as it exits, a moment after umount(8) returns.
	waitFor(t, "the last daemon's pid file gone", 5*time.Second, func() bool {
		_, err := os.Stat(pidFile(mnt))
		return err != nil
	})
}

// TestREADMEFstab: the README shows the fstab line that TestMountHelper
// mounts.
func TestREADMEFstab(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "\n"+fstabLine+"\n") {
		t.Errorf("README.md does not show the fstab line %q", fstabLine)
	}
}
