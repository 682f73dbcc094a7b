package main

// Black-box tests: they build the nlfs binary and drive it as a person
// would, from a shell, checking exit codes, the one-line messages and what
// the mount then holds.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/sys/mountinfo"

	"github.com/nlfs/nlfs/internal/testenv"
)

var nlfsBin string

func TestMain(m *testing.M) {
	// The test binary doubles as the soak test's clients (store_test.go).
	if name := os.Getenv(soakClientEnv); name != "" {
		os.Exit(soakClient(name, os.Args[1:]))
	}
	dir, err := os.MkdirTemp("", "nlfs-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	nlfsBin = filepath.Join(dir, "nlfs")
	if out, err := exec.Command("go", "build", "-o", nlfsBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build nlfs: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is what one run of nlfs did.
type result struct {
	code           int
	stdout, stderr string
}

// nlfs runs the binary with args and stdin.
func nlfs(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(nlfsBin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	return runCmd(t, cmd)
}

// runCmd runs cmd to its end and returns its exit code and output; a command
// that cannot be started at all fails the test.
func runCmd(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", cmd.Args, err)
	}
	return r
}

// checkOneLine asserts a failure was told in one line, without a Go trace.
func checkOneLine(t *testing.T, r result, wantCode int, wantPart string) {
	t.Helper()
	if r.code != wantCode {
		t.Errorf("exit code %d, want %d (stderr %q)", r.code, wantCode, r.stderr)
	}
	msg := strings.TrimSuffix(r.stderr, "\n")
	if strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(msg, "nlfs: ") {
		t.Errorf("stderr is not one `nlfs: …` line: %q", r.stderr)
	}
	if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic") {
		t.Errorf("stderr has a Go trace: %q", r.stderr)
	}
	if !strings.Contains(msg, wantPart) {
		t.Errorf("stderr %q does not say %q", msg, wantPart)
	}
}

func isMounted(dir string) bool {
	_, ok := mountAt(dir)
	return ok
}

// daemonsNaming returns the pids of nlfs processes with dir on their
// command line: a test's way to see a daemon that should not be there,
// whether or not it wrote its pid file.
func daemonsNaming(dir string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		args := strings.Split(string(cmdline), "\x00")
		if filepath.Base(args[0]) == "nlfs" && slices.Contains(args, dir) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// waitFor waits until cond holds, failing the test after within.
func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
	}
}

func sh(t *testing.T, script string) string {
	t.Helper()
	out, err := exec.Command("bash", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return string(out)
}

// mountDir mounts a fresh nlfs with args on a new directory and makes sure
// it is gone when the test ends.
func mountDir(t *testing.T, args ...string) (string, int) {
	t.Helper()
	testenv.RequireFUSE(t)
	dir := t.TempDir()
	r := nlfs(t, "", append(append([]string{"mount"}, args...), dir)...)
	if r.code != 0 {
		t.Fatalf("nlfs mount: exit %d: %s", r.code, r.stderr)
	}
	t.Cleanup(func() {
		if isMounted(dir) {
			detach(dir)
		}
	})
	m := regexp.MustCompile(`daemon pid (\d+)`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("nlfs mount did not name its daemon: %q", r.stdout)
	}
	pid, _ := strconv.Atoi(m[1])
	if !isMounted(dir) {
		t.Fatalf("nlfs mount returned but %s is not mounted", dir)
	}
	return dir, pid
}

// processGone tells whether process pid is gone (or a zombie) within the
// time given.
func processGone(pid int, within time.Duration) bool {
	for deadline := time.Now().Add(within); ; time.Sleep(10 * time.Millisecond) {
		if _, err := startTime(pid); err != nil {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// TestREADMESession is the session the README shows.
func TestREADMESession(t *testing.T) {
	dir, pid := mountDir(t, "--pages", "3")
	if cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); !strings.Contains(string(cmdline), dir) {
		t.Errorf("daemon command line %q does not name the mountpoint", cmdline)
	}
	sh(t, fmt.Sprintf(`cd %s && for c in A B C; do head -c 4096 /dev/zero | tr '\0' $c; done > data && echo '2 1 0' > layout`, dir))
	if got := sh(t, "for i in 0 1 2; do dd if="+dir+"/view bs=4096 skip=$i count=1 status=none | head -c1; done"); got != "CBA" {
		t.Errorf("view pages start with %q, want C, B, A", got)
	}
	if got := sh(t, "cat "+dir+"/layout"); got != "2-0\n" {
		t.Errorf("layout %q", got)
	}
	if got := sh(t, "cat "+dir+"/status"); !strings.Contains(got, "view_pages: 3\n") || !strings.Contains(got, "generation: 1\n") {
		t.Errorf("status:\n%s", got)
	}
	if r := nlfs(t, "", "umount", dir); r.code != 0 {
		t.Fatalf("nlfs umount: %d %s", r.code, r.stderr)
	}
	if isMounted(dir) {
		t.Error("still mounted after nlfs umount")
	}
	if !processGone(pid, 5*time.Second) {
		t.Error("daemon still running after nlfs umount")
	}
}

func TestDemo(t *testing.T) {
	testenv.RequireFUSE(t)
	r := nlfs(t, "", "demo")
	if r.code != 0 {
		t.Fatalf("nlfs demo: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// The view page by page (C, B, A plain to see), map and status, in that order.
	demoInOrder(t, r.stdout, "$ nlfs mount --pages 3 $d\n", "$ echo '2 1 0' > $d/layout\n", "\nC B A\n",
		"view page 0 shows store page 2 (C)", "$ cat $d/map\n", "view       [C][B][A]\n", "$ cat $d/status\n", "generation: 1\n",
		"$ nlfs umount $d\n")
	m := regexp.MustCompile(`(?m)^# d is (\S+)$`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("demo does not say where it mounts:\n%s", r.stdout)
	}
	if isMounted(m[1]) {
		t.Errorf("demo left %s mounted", m[1])
	}
	if _, err := os.Stat(m[1]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("demo left its directory %s: %v", m[1], err)
	}
}

// demoInOrder checks that out holds each of want, in order.
func demoInOrder(t *testing.T, out string, want ...string) {
	t.Helper()
	at := 0
	for _, w := range want {
		i := strings.Index(out[at:], w)
		if i < 0 {
			t.Fatalf("output lacks %q after offset %d:\n%s", w, at, out)
		}
		at += i + len(w)
	}
}

// demoStep is one command of a demo's transcript and what follows it: its output, then any
// narration ("# ").
type demoStep struct {
	cmd    string
	output string
	said   string
}

// demoTranscript splits a demo's output into its commands.
func demoTranscript(out string) []demoStep {
	var steps []demoStep
	for _, line := range strings.SplitAfter(out, "\n") {
		switch {
		case strings.HasPrefix(line, "$ "):
			steps = append(steps, demoStep{cmd: strings.TrimSuffix(line[2:], "\n")})
		case len(steps) == 0:
		case strings.HasPrefix(line, "# "):
			steps[len(steps)-1].said += line
		default:
			steps[len(steps)-1].output += line
		}
	}
	return steps
}

// demoOutputOf is the output of the n-th command (from 0) of the transcript starting with prefix.
func demoOutputOf(t *testing.T, steps []demoStep, prefix string, n int) demoStep {
	t.Helper()
	for _, s := range steps {
		if strings.HasPrefix(s.cmd, prefix) {
			if n == 0 {
				return s
			}
			n--
		}
	}
	t.Fatalf("no command %q in the transcript", prefix)
	return demoStep{}
}

// TestNamedDemos runs every demo and checks what it shows, in order, and each claim its
// narration makes against the output of the commands it follows: the kernel's own record.
func TestNamedDemos(t *testing.T) {
	testenv.RequireFUSE(t)
	root := os.Geteuid() == 0
	want := map[string][]string{
		"tlpi": {"\n2-0\n", `"2 1 0" reads back as "2-0"`, "\nC B A\n", "view page 0 shows store page 2 (C)", "store       A  B  C\n",
			"before 4.0 [C  B  A]\nfile PTE    2  -  0\nsince 4.0  [C][B][A]\n", "3 VMAs for 3 runs", "layout: pinned (set by a layout",
			"vmas_before_linux_4_0: 1\npte_offsets_before_linux_4_0: 2\nvmas_since_linux_4_0: 3\n",
			"Before Linux 4.0 the same view cost 1 VMA, made nonlinear, with 2 file PTEs: the"},
		"ltp": {`echo "remap $p 1 $((p ^ 1))"`, "remap 0 1 1\nremap 1 1 0\n", "$ nlfs layout show --steps --pages 16 $l\n",
			"remap 0 1 1: view page 0 shows store page 1\n  since 4.0:  1 VMA -> 2 (split at view page 1)\n  before 4.0: 1 VMA, made nonlinear; the call wrote 1 file PTE\n",
			"remap 1 1 0: view page 1 shows store page 0\n  since 4.0:  2 VMAs -> 3 (split at view page 2)\n  before 4.0: 1 VMA, nonlinear; the call wrote 1 file PTE\n",
			"after 16 remap calls, the same view before Linux 4.0 and since:", "since 4.0:  16 VMAs, one per run",
			"$ cp $l $d/layout\n", "\n1-0 3-2 5-4 7-6 9-8 11-10 13-12 15-14\n", "\nB A D C F E H G J I L K N M P O\n", "16 VMAs for 16 runs", "$ rm $l\n"},
		"reverse": {"\n7-0\n", "\nH G F E D C B A\n", "8 VMAs, one per page", "says which store page each maps: 7, 6, 5, 4, 3, 2, 1, 0.",
			"$ echo '0-7' > $d/layout\n", "1 VMA now", "5 VMAs -> 1 (4 VMAs replaced by one; merged with the VMA before)",
			// Before 4.0 a VMA, once nonlinear, stayed so until unmapped, pages back in place or not.
			"before 4.0: 1 VMA, still nonlinear: VM_NONLINEAR stayed set until the mapping\n"},
		"interleave": {"\n0 2 4 6 1 3 5 7\n", "\nA C E G B D F H\n", "runs: 8\nvmas: 8\n"},
		"ring": {"\n0-3*2\n", "\nA B C D A B C D\n", "MAP_SHARED", "memset(p + 3 * 4096, 'X', 4096)", "msync(",
			"\nY B C X Y B C X\n", "\nY B C X\n", "head (X) is in store page 3 and its tail (Y) in store page 0"},
		"alias": {"\n0*2 0-1\n", "equal neighbours folded with *", "\nA A A B\n", "write page 1 of view only", "\nZ Z Z B\n", "\nZ B\n"},
		"views": {"$ mkdir $d/views/rev", "\nA B\n# the main view: view page 0 shows store page 0 (A)", "\nB A\n# views/rev: view page 0 shows store page 1 (B)",
			"write page 0 of view only", "\nB Z\n", "\nmap:view 0 -> store 0  'Z'", "\nviews/rev/map:view 1 -> store 0  'Z'", "$ rmdir $d/views/rev\n"},
	}
	list := nlfs(t, "", "demo", "--list")
	for _, d := range demos {
		if !strings.Contains(list.stdout, d.name+" ") {
			t.Errorf("demo --list lacks %s", d.name)
		}
		t.Run(d.name, func(t *testing.T) {
			r := nlfs(t, "", "demo", d.name)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if len(want[d.name]) == 0 {
				t.Fatalf("no expectations for demo %s", d.name)
			}
			demoInOrder(t, r.stdout, want[d.name]...)
			steps := demoTranscript(r.stdout)
			if first := steps[0].cmd; first != "d=$(mktemp -d -t nlfs-demo-XXXXXX)" {
				t.Errorf("the first command is %q, not the one that makes $d", first)
			}
			if last := steps[len(steps)-1].cmd; last != "rmdir $d" {
				t.Errorf("the last command is %q, not the one that removes $d", last)
			}
			switch d.name {
			case "reverse":
				demoCheckReverse(t, steps)
			case "alias", "views":
				demoCheckFrames(t, steps, root)
			}
		})
	}
	checkOneLine(t, nlfs(t, "", "demo", "nosuch"), exitUsage, `no demo named "nosuch"`)
}

// demoCheckReverse: the reverse demo says 8 VMAs where vmas listed 8, and what became of them
// where vmas listed one: merged in place if it starts where the first of the 8 did, replaced by
// a new mapping otherwise.
func demoCheckReverse(t *testing.T, steps []demoStep) {
	t.Helper()
	before, after := demoOutputOf(t, steps, "cat $d/vmas", 0), demoOutputOf(t, steps, "cat $d/vmas", 1)
	lines0, lines1 := strings.Split(strings.TrimSpace(before.output), "\n"), strings.Split(strings.TrimSpace(after.output), "\n")
	if len(lines0) != 8 || len(lines1) != 1 {
		t.Fatalf("vmas listed %d, then %d lines; want 8, then 1", len(lines0), len(lines1))
	}
	start0, _, _ := strings.Cut(lines0[0], "-")
	start1, _, _ := strings.Cut(lines1[0], "-")
	if start0 == start1 {
		if !strings.Contains(after.said, "merged in place") {
			t.Errorf("the VMA starts where the 8 did (%s), but the demo says:\n%s", start0, after.said)
		}
	} else if !strings.Contains(after.said, "at "+start1+", not "+start0+": the 8 VMAs were not merged but replaced by a\n# new mapping") {
		t.Errorf("the VMA moved from %s to %s, but the demo says:\n%s", start0, start1, after.said)
	}
}

// demoCheckFrames: as root, the alias and views demos name one frame, and the map lines they
// grep show that frame at every view page they name; otherwise they say the frames are not shown.
func demoCheckFrames(t *testing.T, steps []demoStep, root bool) {
	t.Helper()
	var g demoStep
	for _, s := range steps {
		if strings.Contains(s.cmd, "grep -- '-> store 0 '") {
			g = s
			break
		}
	}
	if !root {
		if !strings.Contains(g.said, "The frames are not shown") {
			t.Errorf("not root, but the demo says:\n%s", g.said)
		}
		return
	}
	m := regexp.MustCompile(`One physical frame, (0x[0-9a-f]+), behind`).FindStringSubmatch(g.said)
	if m == nil {
		t.Fatalf("the demo names no frame:\n%s%s", g.output, g.said)
	}
	lines := strings.Split(strings.TrimSpace(g.output), "\n")
	if len(lines) < 2 {
		t.Fatalf("grep found %d map lines:\n%s", len(lines), g.output)
	}
	for _, l := range lines {
		if !strings.Contains(l, "frame "+m[1]+" ") && !strings.HasSuffix(l, "frame "+m[1]) {
			t.Errorf("the demo says frame %s, but map says %q", m[1], l)
		}
	}
}

// TestDemoCommandsPaste: the commands of each demo, pasted into one shell in order, all run
// (with nlfs on PATH): none relies on anything the transcript does not show.
func TestDemoCommandsPaste(t *testing.T) {
	testenv.RequireFUSE(t)
	for _, d := range demos {
		t.Run(d.name, func(t *testing.T) {
			r := nlfs(t, "", "demo", d.name)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			var script strings.Builder
			script.WriteString("set -e\n")
			for _, s := range demoTranscript(r.stdout) {
				script.WriteString(s.cmd + "\n")
			}
			cmd := exec.Command("bash", "-c", script.String())
			cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(nlfsBin)+":"+os.Getenv("PATH"))
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Errorf("pasted commands failed: %v\n%s\nscript:\n%s", err, out, script.String())
			}
			if m := regexp.MustCompile(`serving (\S+) `).FindSubmatch(out); m != nil && isMounted(string(m[1])) {
				detach(string(m[1]))
				t.Errorf("pasted commands left %s mounted", m[1])
			}
		})
	}
}

func TestMountRefusals(t *testing.T) {
	testenv.RequireFUSE(t)
	live, _ := mountDir(t)
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "x"), nil, 0o644)
	badLayout := filepath.Join(t.TempDir(), "bad")
	os.WriteFile(badLayout, []byte("0 1\n2 99\n"), 0o644)
	cases := []struct {
		name string
		args []string
		code int
		part string
	}{
		{"live mountpoint", []string{"mount", live}, exitMountpoint, "already a mountpoint"},
		{"missing dir", []string{"mount", "/nonexistent/nlfs"}, exitMountpoint, "does not exist"},
		{"not a directory", []string{"mount", file}, exitMountpoint, "not a directory"},
		{"not empty", []string{"mount", full}, exitMountpoint, "not empty"},
		{"no mountpoint", []string{"mount"}, exitUsage, "missing MOUNTPOINT"},
		{"unknown flag", []string{"mount", "--frobnicate", t.TempDir()}, exitUsage, "mount: unknown option --frobnicate (see nlfs mount --help)"},
		{"bad backend", []string{"mount", "--backend", "magic", t.TempDir()}, exitUsage, `unknown backend "magic"`},
		{"bad --http address", []string{"mount", "--http", "bogus", t.TempDir()}, exitUsage, "--http bogus: want HOST:PORT"},
		{"bad --http port", []string{"mount", "--http", "127.0.0.1:99999", t.TempDir()}, exitUsage, "the port a number from 0 to 65535"},
		{"negative pages", []string{"mount", "--pages", "-1", t.TempDir()}, exitUsage, "--pages -1"},
		{"bad layout", []string{"mount", "--pages", "4", "--layout", badLayout, t.TempDir()}, exitLayout, "line 2, column 3: page 99 is past the end of data (4 pages)"},
		{"missing source", []string{"mount", "--source", "/nonexistent", t.TempDir()}, exitUsage, "no such file"},
		{"umount not mounted", []string{"umount", t.TempDir()}, exitMountpoint, "is not mounted"},
		{"unknown command", []string{"frob"}, exitUsage, `unknown command "frob"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkOneLine(t, nlfs(t, "", c.args...), c.code, c.part)
		})
	}
	// The live mount is untouched by the refused attempt.
	if got := sh(t, "cat "+live+"/layout"); got != "# identity: follows data, now 0-15\n" {
		t.Errorf("live mount's layout after refusals: %q", got)
	}
}

// TestKill9ThenMount: a mount left dead by a killed daemon is recovered by
// nlfs mount, and by nlfs umount.
func TestKill9ThenMount(t *testing.T) {
	dir, pid := mountDir(t, "--pages", "2")
	syscall.Kill(pid, syscall.SIGKILL)
	if !processGone(pid, 5*time.Second) {
		t.Fatal("daemon survived SIGKILL")
	}
	if _, err := os.Stat(dir); !deadMount(dir, err) {
		t.Fatalf("after kill -9: stat %v, want ENOTCONN", err)
	}
	r := nlfs(t, "", "mount", "--pages", "2", dir)
	if r.code != 0 {
		t.Fatalf("nlfs mount over a dead mount: %d %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "recovered") {
		t.Errorf("mount did not say it recovered the dead mountpoint: %q", r.stderr)
	}
	if got := sh(t, "cat "+dir+"/layout"); got != "# identity: follows data, now 0-1\n" {
		t.Errorf("new mount's layout %q", got)
	}
	m := regexp.MustCompile(`daemon pid (\d+)`).FindStringSubmatch(r.stdout)
	pid2, _ := strconv.Atoi(m[1])
	syscall.Kill(pid2, syscall.SIGKILL)
	processGone(pid2, 5*time.Second)
	if r := nlfs(t, "", "umount", dir); r.code != 0 {
		t.Fatalf("nlfs umount of a dead mount: %d %s", r.code, r.stderr)
	}
	if _, err := os.Stat(dir); err != nil || isMounted(dir) {
		t.Errorf("after umount of a dead mount: stat %v, mounted %v", err, isMounted(dir))
	}
}

// TestForegroundSignals: -f stays attached; SIGTERM and SIGINT unmount cleanly, lazily when a
// reader still holds the view open: the mount is detached at once, and its daemon serves that
// reader until it lets go, then exits.
func TestForegroundSignals(t *testing.T) {
	testenv.RequireFUSE(t)
	for _, tc := range []struct {
		name   string
		sig    syscall.Signal
		holdFD bool
	}{
		{"SIGTERM", syscall.SIGTERM, false},
		{"SIGINT", syscall.SIGINT, false},
		{"SIGTERM while view is open", syscall.SIGTERM, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(nlfsBin, "mount", "-f", "--pages", "2", dir)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				cmd.Process.Kill()
				if isMounted(dir) {
					detach(dir)
				}
			})
			for i := 0; !isMounted(dir); i++ {
				if i > 500 {
					t.Fatalf("not mounted after 5 s: %s", stderr.String())
				}
				time.Sleep(10 * time.Millisecond)
			}
			var holderView *os.File // the holder's descriptor, as the test's own
			holder := exec.Command("sleep", "30")
			if tc.holdFD {
				f, err := os.Open(filepath.Join(dir, "view"))
				if err != nil {
					t.Fatal(err)
				}
				holder.Stdin = f
				holder.Start()
				holderView = f
				t.Cleanup(func() { holder.Process.Kill(); holder.Wait(); f.Close() })
			}
			cmd.Process.Signal(tc.sig)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			if tc.holdFD {
				// Busy: detached at once, and served until the last holder lets go.
				waitFor(t, "the busy mount detached", 10*time.Second, func() bool { return !isMounted(dir) })
				buf := make([]byte, 4096)
				if _, err := holderView.ReadAt(buf, 0); err != nil {
					t.Errorf("the held view, once detached: %v; want it served until closed", err)
				}
				select {
				case err := <-done:
					t.Fatalf("the daemon left (%v) while a descriptor of its mount was open (%s)", err, stderr.String())
				default:
				}
				holderView.Close()
				holder.Process.Kill()
				holder.Wait()
			}
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("daemon exit after %v: %v (%s)", tc.sig, err, stderr.String())
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("daemon still running 10 s after %v (and its last holder gone)", tc.sig)
			}
			if isMounted(dir) {
				t.Errorf("%s still mounted after %v", dir, tc.sig)
			}
			// With the view held open the unmount is busy, and only
			// the lazy detach can have unmounted it.
			if lazy := strings.Contains(stderr.String(), "was busy: detached it lazily"); lazy != tc.holdFD {
				t.Errorf("detached lazily: %v, want %v (stderr %q)", lazy, tc.holdFD, stderr.String())
			}
		})
	}
}

func TestApply(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	var store []byte
	for _, c := range "ABCD" {
		store = append(store, bytes.Repeat([]byte{byte(c)}, 4096)...)
	}
	os.WriteFile(src, store, 0o644)
	lay := filepath.Join(dir, "layout")
	os.WriteFile(lay, []byte("3 1 1 0\n"), 0o644)
	out := filepath.Join(dir, "out")
	if r := nlfs(t, "", "apply", "--layout", lay, "--source", src, "-o", out); r.code != 0 {
		t.Fatalf("apply: %d %s", r.code, r.stderr)
	}
	got, _ := os.ReadFile(out)
	var want []byte
	for _, c := range "DBBA" {
		want = append(want, bytes.Repeat([]byte{byte(c)}, 4096)...)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("apply wrote %d bytes, not pages D B B A", len(got))
	}
	// Source on standard input, view on standard output.
	if r := nlfs(t, string(store), "apply", "--layout", lay); r.code != 0 || r.stdout != string(want) {
		t.Errorf("apply from stdin: exit %d, %d bytes", r.code, len(r.stdout))
	}
	os.WriteFile(lay, []byte("0 1\nremap 0 2 3\n"), 0o644)
	checkOneLine(t, nlfs(t, "", "apply", "--layout", lay, "--source", src), exitLayout, "line 2, column 11: page 4 is past the end of data (4 pages)")
	checkOneLine(t, nlfs(t, "", "apply", "--source", src), exitUsage, "--layout FILE is required")
}

func TestLayoutCommands(t *testing.T) {
	cases := []struct {
		args   []string
		stdin  string
		stdout string
	}{
		{[]string{"layout", "gen", "reverse", "8"}, "", "7-0\n"},
		{[]string{"layout", "gen", "identity", "4"}, "", "0-3\n"},
		{[]string{"layout", "gen", "rotate", "4", "1"}, "", "1-3 0\n"},
		{[]string{"layout", "fmt", "-"}, "0 1 2 3 7 6 5 4 # comment\n", "0-3 7-4\n"},
		{[]string{"layout", "fmt", "-"}, "0*3, 0-1*2", "0*3 0-1*2\n"},
		{[]string{"layout", "fmt", "-"}, "0-1*70000", "0-1*70000\n"},
		{[]string{"layout", "fmt", "--pages", "4", "-"}, "# nothing", "# identity: follows data, now 0-3\n"},
		{[]string{"layout", "fmt", "-"}, "", "# identity: follows data\n"},
		{[]string{"layout", "check", "--pages", "8", "-"}, "7-0", "-: ok: 8 view pages in 8 runs\n"},
	}
	for _, c := range cases {
		r := nlfs(t, c.stdin, c.args...)
		if r.code != 0 || r.stdout != c.stdout {
			t.Errorf("nlfs %s: exit %d stdout %q stderr %q, want %q", strings.Join(c.args, " "), r.code, r.stdout, r.stderr, c.stdout)
		}
	}
	checkOneLine(t, nlfs(t, "0 1\n2 x", "layout", "check", "-"), exitLayout, `-: line 2, column 3: unexpected "x"`)
	checkOneLine(t, nlfs(t, "9", "layout", "check", "--pages", "8", "-"), exitLayout, "page 9 is past the end of data (8 pages)")
	checkOneLine(t, nlfs(t, "", "layout", "gen", "spiral", "3"), exitUsage, "spiral")
	checkOneLine(t, nlfs(t, "", "layout", "gen", "reverse", "x"), exitUsage, `"x" is not a number`)
	checkOneLine(t, nlfs(t, "", "layout", "gen", "reverse", "-1"), exitUsage, "N must be from 0 to 1048576, got -1")
}

// TestWalkthroughScript runs scripts/demo.sh as a teacher would, unpaused: every line of
// output follows the command that printed it, each claim holds in the output it is about, and
// the picture it offers is still there once it has unmounted.
func TestWalkthroughScript(t *testing.T) {
	testenv.RequireFUSE(t)
	keep := t.TempDir()
	cmd := exec.Command("bash", "../../scripts/demo.sh")
	cmd.Env = append(os.Environ(), "NLFS="+nlfsBin, "NLFS_DEMO_NOPAUSE=1", "NLFS_DEMO_OUT="+keep)
	raw, err := cmd.CombinedOutput()
	out := string(raw)
	if err != nil {
		t.Fatalf("scripts/demo.sh: %v\n%s", err, out)
	}
	// Its output here goes to a pipe, not a terminal: no terminal codes (bold) in it.
	if strings.Contains(out, "\x1b[") {
		t.Errorf("scripts/demo.sh writes terminal codes to a pipe:\n%q", out[:min(len(out), 400)])
	}
	demoInOrder(t, out, "$ nlfs mount --pages 8 $d\n", "# identity: follows data, now 0-7\n", "\nA B C D E F G H\n", "vmas: 1", "$ echo '7-0' > $d/layout\n", "\nH G F E D C B A\n",
		"eight now", "$ cat $d/vmas\n", "vmas: 8", "vmas_before_linux_4_0: 1\npte_offsets_before_linux_4_0: 8\nvmas_since_linux_4_0: 8\n", "\nZ Z Z D E F G H\n", "\nZ B C D E F G H\n", "view       [Z][Z][Z][D  E  F  G  H]\n",
		"so echo reports it", "$ echo '0 1 99' > $d/layout || true\nbash: line 1: echo: write error: Invalid argument\n",
		"page 99 is past the end of data (8 pages)", "open file://"+keep+"/map.svg", "$ nlfs umount $d\n")
	// Output only ever follows its command: a say ("# ") ends the previous command's output.
	inOutput := false
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "$ "):
			inOutput = true
		case strings.HasPrefix(line, "# "), line == "":
			inOutput = inOutput && line == ""
		case !inOutput:
			t.Errorf("output line %q follows no command", line)
		}
	}
	// "eight now": the vmas file listed eight VMAs.
	steps := demoTranscript(out)
	if v := demoOutputOf(t, steps, "cat $d/vmas", 0); strings.Count(v.output, "/memfd:nlfs-data") != 8 {
		t.Errorf("the walk-through says eight VMAs; vmas listed:\n%s", v.output)
	}
	if svg, err := os.ReadFile(filepath.Join(keep, "map.svg")); err != nil || !bytes.Contains(svg, []byte("<svg")) {
		t.Errorf("the map.svg offered is not there after the walk-through: %v", err)
	}
}

// TestDemoCleansUpWhenCut: a reader that goes away mid-demo (`| head`)
// or Ctrl-C must not leave the demo's mount behind.
func TestDemoCleansUpWhenCut(t *testing.T) {
	testenv.RequireFUSE(t)
	before := demoMounts()
	for _, cut := range []string{"closed stdout", "SIGINT"} {
		cmd := exec.Command(nlfsBin, "demo", "ltp")
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatalf("start nlfs demo ltp: %v", err)
		}
		out.Read(make([]byte, 1))
		// Cut it once its mount is up, while it still has output to write; a demo that never
		// mounts proves nothing about cleaning up.
		waitFor(t, cut+": the demo's mount", 10*time.Second, func() bool { return demoMounts() > before })
		if cut == "SIGINT" {
			cmd.Process.Signal(syscall.SIGINT)
		}
		out.Close()
		cmd.Wait()
		deadline := time.Now().Add(5 * time.Second)
		for demoMounts() > before && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if n := demoMounts(); n > before {
			t.Errorf("%s: %d demo mounts left behind", cut, n-before)
		}
	}
}

func demoMounts() int {
	return len(mounts(func(m *mountinfo.Info) bool {
		return m.FSType == nlfsType && strings.Contains(m.Mountpoint, "/nlfs-demo-")
	}))
}
