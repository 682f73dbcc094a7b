package main

// Security: a mount serves only its owner unless --allow-other (and then
// with default_permissions, so the modes are enforced); the modes say what
// may be written and nothing is world-writable; no descriptor of the daemon
// (memfd, /dev/fuse, or one its caller left open) leaks into a child.

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nlfs/nlfs/internal/testenv"
)

const nobody = 65534

// openDir makes a directory every user may traverse (t.TempDir is 0700).
func openDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "nlfs-sec-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, e := range []string{"m", "n"} {
			if isMounted(filepath.Join(dir, e)) {
				detach(filepath.Join(dir, e))
			}
		}
		os.RemoveAll(dir)
	})
	return dir
}

// asNobody runs a shell script as user nobody and returns its result.
func asNobody(t *testing.T, script string, args ...string) result {
	t.Helper()
	return runCmd(t, exec.Command("setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", "--", "bash", "-c", script, "bash"}, args...)...))
}

// devFuseMode sets the mode of /dev/fuse for the test, and back after it:
// 0600 is a fresh machine's before udev runs, 0666 what udev makes it.
func devFuseMode(t *testing.T, mode os.FileMode) {
	t.Helper()
	fi, err := os.Stat(devFuse)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(devFuse, mode); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(devFuse, fi.Mode().Perm()) })
}

// mountOptions returns the mount's options and super options.
func mountOptions(t *testing.T, dir string) string {
	t.Helper()
	m, ok := mountAt(dir)
	if !ok {
		t.Fatalf("%s is not in mountinfo", dir)
	}
	return m.Options + " " + m.VFSOptions
}

// secureMount mounts nlfs on dir/m with extra arguments.
func secureMount(t *testing.T, base string, args ...string) (string, int) {
	t.Helper()
	dir := filepath.Join(base, "m")
	os.Mkdir(dir, 0o755)
	r := nlfs(t, "", append(append([]string{"mount", "--pages", "2"}, args...), dir)...)
	if r.code != 0 {
		t.Fatalf("nlfs mount: exit %d: %s", r.code, r.stderr)
	}
	t.Cleanup(func() { nlfs(t, "", "umount", "--lazy", dir) })
	return dir, daemonPid(t, r.stdout)
}

// TestOnlyOwnerWithoutAllowOther: without --allow-other another user cannot
// even look at the mount.
func TestOnlyOwnerWithoutAllowOther(t *testing.T) {
	testenv.RequireFUSE(t)
	testenv.RequireRoot(t, "setpriv")
	dir, _ := secureMount(t, openDir(t))
	if opts := mountOptions(t, dir); strings.Contains(opts, "allow_other") || strings.Contains(opts, "default_permissions") {
		t.Errorf("mount options without --allow-other: %s", opts)
	}
	for _, script := range []string{`cat "$1/status"`, `ls "$1"`, `cat "$1/data"`, `printf 0 > "$1/layout"`, `stat "$1/view"`} {
		r := asNobody(t, script, dir)
		if r.code == 0 || !strings.Contains(r.stderr, "Permission denied") {
			t.Errorf("as nobody, %s: exit %d %q; want Permission denied", script, r.code, r.stderr)
		}
	}
	if got := sh(t, "cat "+dir+"/layout"); got != "# identity: follows data, now 0-1\n" {
		t.Errorf("the owner reads layout %q", got)
	}
}

// TestAllowOther: with --allow-other other users may read, and the kernel
// enforces the modes (default_permissions): they cannot write data, layout
// or view (0644, owned by the mounter); nobody writes the generated files.
func TestAllowOther(t *testing.T) {
	testenv.RequireFUSE(t)
	testenv.RequireRoot(t, "setpriv")
	dir, _ := secureMount(t, openDir(t), "--allow-other")
	if opts := mountOptions(t, dir); !strings.Contains(opts, "allow_other") || !strings.Contains(opts, "default_permissions") {
		t.Errorf("mount options with --allow-other: %s", opts)
	}
	for _, script := range []string{`cat "$1/status" >/dev/null`, `cat "$1/layout"`, `cat "$1/data" "$1/view" "$1/map" "$1/map.svg" "$1/vmas" >/dev/null`, `ls "$1" >/dev/null`} {
		if r := asNobody(t, script, dir); r.code != 0 {
			t.Errorf("as nobody, %s: exit %d %q", script, r.code, r.stderr)
		}
	}
	for _, script := range []string{
		`printf 1 >> "$1/data"`, `printf '1 0' > "$1/layout"`, `printf x | dd of="$1/view" conv=notrunc status=none`,
		`truncate -s 0 "$1/data"`, `printf x > "$1/status"`, `touch "$1/new"`, `chmod 666 "$1/data"`,
	} {
		r := asNobody(t, script, dir)
		if r.code == 0 || !(strings.Contains(r.stderr, "Permission denied") || strings.Contains(r.stderr, "Operation not permitted")) {
			t.Errorf("as nobody, %s: exit %d %q; want it refused", script, r.code, r.stderr)
		}
	}
	if got := sh(t, "cat "+dir+"/layout; wc -c <"+dir+"/data"); got != "# identity: follows data, now 0-1\n8192\n" {
		t.Errorf("after nobody's attempts: %q", got)
	}
	// The owner writes what its modes allow, and not the generated files.
	sh(t, "printf '1 0' > "+dir+"/layout && printf x >> "+dir+"/data")
	if out, err := exec.Command("bash", "-c", "printf x > "+dir+"/status").CombinedOutput(); err == nil {
		t.Errorf("the owner wrote status: %s", out)
	}
}

// TestModes: the modes say what may be written, nothing is world- (or
// group-) writable, and no one can make it so or add files.
func TestModes(t *testing.T) {
	testenv.RequireFUSE(t)
	dir, _ := mountDir(t, "--pages", "2")
	want := map[string]os.FileMode{
		".": os.ModeDir | 0o755, "data": 0o644, "layout": 0o644, "view": 0o644,
		"map": 0o444, "map.svg": 0o444, "vmas": 0o444, "status": 0o444, "status.json": 0o444,
		"views": os.ModeDir | 0o755,
	}
	check := func(when string) {
		t.Helper()
		for name, mode := range want {
			fi, err := os.Stat(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode() != mode {
				t.Errorf("%s: %s mode %v, want %v", when, name, fi.Mode(), mode)
			}
			if fi.Mode()&0o022 != 0 {
				t.Errorf("%s: %s is group- or world-writable: %v", when, name, fi.Mode())
			}
		}
	}
	check("fresh mount")
	// Attempts to open things up or add things fail, or change nothing.
	for _, script := range []string{
		"chmod 666 data", "chmod 777 .", "chmod o+w layout", "chmod u+s view", "touch new", "mkdir d",
		"ln -s data link", "ln data hard", "mknod fifo p", "rm -f data", "mv data data2", "mv status x",
		"printf x > map", "printf x > vmas", "printf x > map.svg", "printf x > status", "printf x > status.json", "truncate -s 0 status", "rmdir views",
	} {
		exec.Command("bash", "-c", `cd "$1" && `+script, "bash", dir).Run()
	}
	check("after chmod, create, link, rename and write attempts")
	names, err := readDirNames(dir, -1)
	if err != nil || len(names) != len(want)-1 {
		t.Errorf("the mount holds %v (%v), want exactly its %d files", names, err, len(want)-1)
	}
	for _, name := range []string{"map", "vmas", "status", "status.json", "map.svg"} {
		if b, _ := os.ReadFile(filepath.Join(dir, name)); len(b) == 0 || string(b) == "x" {
			t.Errorf("%s was overwritten: %q", name, b)
		}
	}
	if got := sh(t, "cat "+dir+"/layout; wc -c <"+dir+"/data"); got != "# identity: follows data, now 0-1\n8192\n" {
		t.Errorf("state after the attempts: %q", got)
	}
}

// cloexecFlag is O_CLOEXEC as /proc/PID/fdinfo shows it (octal flags).
const cloexecFlag = 0o2000000

// checkDaemonFDs checks every descriptor of the daemon pid above stderr is
// close-on-exec, none is one of the caller's (foreign), and stdin, stdout
// and stderr are /dev/null.
func checkDaemonFDs(t *testing.T, pid int, foreign ...string) {
	t.Helper()
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, e := range entries {
		fd, _ := strconv.Atoi(e.Name())
		target, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, fd))
		info, err := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%d", pid, fd))
		if err != nil {
			continue // closed meanwhile
		}
		var flags int64
		for _, line := range strings.Split(string(info), "\n") {
			if v, ok := strings.CutPrefix(line, "flags:"); ok {
				flags, _ = strconv.ParseInt(strings.TrimSpace(v), 8, 64)
			}
		}
		seen = append(seen, fmt.Sprintf("%d=%s", fd, target))
		for _, f := range foreign {
			if strings.Contains(target, f) {
				t.Errorf("daemon holds its caller's descriptor %d -> %s", fd, target)
			}
		}
		if fd <= 2 {
			if target != "/dev/null" {
				t.Errorf("daemon's descriptor %d is %s, want /dev/null", fd, target)
			}
			continue
		}
		if flags&cloexecFlag == 0 && target == "/dev/null" {
			// go-fuse's splice package opens /dev/null (to drain pipes)
			// without O_CLOEXEC, lazily, after the daemon has marked its
			// descriptors. A child inheriting /dev/null gains nothing.
			continue
		}
		if flags&cloexecFlag == 0 {
			t.Errorf("daemon's descriptor %d -> %s (flags %o) is not close-on-exec: it would leak into children", fd, target, flags)
		}
	}
	var memfd, fuse bool
	for _, s := range seen {
		memfd = memfd || strings.Contains(s, "memfd:nlfs-data")
		fuse = fuse || strings.HasSuffix(s, "=/dev/fuse")
	}
	if !memfd || !fuse {
		t.Errorf("daemon descriptors %v: the memfd or /dev/fuse is missing, the check saw nothing", seen)
	}
}

// TestNoDescriptorLeaks: started from a shell that holds a file and a pipe
// open without close-on-exec, and captured by $( ), the daemon keeps none of
// them (the $( ) returns: nothing holds its pipe), and every descriptor it
// has (the memfd, /dev/fuse) is close-on-exec.
func TestNoDescriptorLeaks(t *testing.T) {
	testenv.RequireFUSE(t)
	for _, fg := range []bool{false, true} {
		t.Run(map[bool]string{false: "daemon", true: "foreground"}[fg], func(t *testing.T) {
			dir := t.TempDir()
			hold := filepath.Join(t.TempDir(), "held-by-caller")
			os.WriteFile(hold, nil, 0o644)
			if !fg {
				out := sh(t, fmt.Sprintf(`exec 7<%q 8> >(cat >/dev/null); readlink /proc/$$/fd/8; out=$(%s mount --pages 2 %s); echo "$out"`, hold, nlfsBin, dir))
				t.Cleanup(func() { nlfs(t, "", "umount", "--lazy", dir) })
				pipe, _, _ := strings.Cut(out, "\n")
				if !strings.HasPrefix(pipe, "pipe:[") {
					t.Fatalf("the caller's pipe: %q", pipe)
				}
				checkDaemonFDs(t, daemonPid(t, out), "held-by-caller", pipe)
				return
			} else {
				cmd := exec.Command("bash", "-c", fmt.Sprintf(`exec 7<%q; exec %s mount -f --pages 2 %s`, hold, nlfsBin, dir))
				stderr, err := cmd.StderrPipe()
				if err != nil {
					t.Fatal(err)
				}
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { nlfs(t, "", "umount", "--lazy", dir); cmd.Process.Kill(); cmd.Wait() })
				// The mount shows in mountinfo before the daemon has
				// finished setting up; "serving" comes after.
				line, err := bufio.NewReader(stderr).ReadString('\n')
				if err != nil || !strings.Contains(line, "serving") {
					t.Fatalf("foreground nlfs said %q (%v), want its serving line", line, err)
				}
				go io.Copy(io.Discard, stderr)
				pid := cmd.Process.Pid
				// A foreground nlfs keeps the terminal's stdio; only check
				// descriptors above stderr.
				entries, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
				for _, e := range entries {
					fd, _ := strconv.Atoi(e.Name())
					info, _ := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%d", pid, fd))
					target, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, fd))
					if fd > 2 && !strings.Contains(string(info), "flags:\t02") {
						t.Errorf("foreground nlfs: descriptor %d -> %s is not close-on-exec:\n%s", fd, target, info)
					}
				}
			}
		})
	}
}

// nobodySetup returns a copy of nlfs that user nobody may run, and an empty
// directory of nobody's own to mount on.
func nobodySetup(t *testing.T) (bin, dir string) {
	t.Helper()
	base := openDir(t)
	bin = filepath.Join(base, "nlfs")
	if out, err := exec.Command("cp", nlfsBin, bin).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	dir = filepath.Join(base, "n")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	return bin, dir
}

// TestNonRootMount: a user's own mount (through fusermount3) shows the
// user as owner, so the modes tell the truth, and root (not the owner) is
// kept out; --allow-other without user_allow_other in /etc/fuse.conf is
// refused in one clear line.
func TestNonRootMount(t *testing.T) {
	testenv.RequireFUSE(t)
	testenv.RequireRoot(t, "setpriv", "fusermount3")
	devFuseMode(t, 0o666)
	bin, dir := nobodySetup(t)
	r := asNobody(t, `"$1" mount --pages 2 "$2"`, bin, dir)
	if r.code != 0 {
		t.Fatalf("nlfs mount as nobody: exit %d: %s", r.code, r.stderr)
	}
	t.Cleanup(func() { asNobody(t, `"$1" umount --lazy "$2"`, bin, dir) })
	pid := daemonPid(t, r.stdout)
	r = asNobody(t, `cd "$1" && stat -c '%u %g %a %n' . data layout view status && printf '1 0' > layout && printf x >> data && cat layout && wc -c <data`, dir)
	want := fmt.Sprintf("%[1]d %[1]d 755 .\n%[1]d %[1]d 644 data\n%[1]d %[1]d 644 layout\n%[1]d %[1]d 644 view\n%[1]d %[1]d 444 status\n1-0\n8193\n", nobody)
	if r.code != 0 || r.stdout != want {
		t.Errorf("nobody's own mount:\n%s%s\nwant:\n%s", r.stdout, r.stderr, want)
	}
	if out, err := exec.Command("cat", dir+"/status").CombinedOutput(); err == nil || !strings.Contains(string(out), "Permission denied") {
		t.Errorf("root read nobody's mount without --allow-other: %v %s", err, out)
	}
	checkDaemonFDs(t, pid)
	// Root's mount is not nobody's to unmount, and nlfs says so (fusermount3 says "entry not
	// found in /etc/mtab").
	rootDir, _ := mountDir(t, "--pages", "1")
	checkOneLine(t, asNobody(t, `"$1" umount "$2"`, bin, rootDir), exitMountpoint, rootDir+" is another user's mount (uid 0): only that user or root may unmount it")
	if !isMounted(rootDir) {
		t.Error("nobody's nlfs umount of root's mount unmounted it")
	}
	if r := asNobody(t, `"$1" umount "$2"`, bin, dir); r.code != 0 || isMounted(dir) || !processGone(pid, 5*time.Second) {
		t.Fatalf("nlfs umount as nobody: exit %d %s", r.code, r.stderr)
	}
	if conf, _ := os.ReadFile("/etc/fuse.conf"); !hasUserAllowOther(conf) {
		r := asNobody(t, `"$1" mount --allow-other --pages 2 "$2"`, bin, dir)
		if r.code != exitMount || !strings.Contains(r.stderr, "user_allow_other") || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("--allow-other as nobody without user_allow_other: exit %d %q", r.code, r.stderr)
		}
		if isMounted(dir) {
			t.Error("refused --allow-other left a mount")
		}
	}
}
