package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nlfs/nlfs/internal/shellquote"
)

// client is a shell process working on a mount; its output is collected.
type client struct {
	cmd    *exec.Cmd
	out    *bufio.Reader
	stderr syncBuffer
	done   chan error
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startClient runs script with bash, the mountpoint as $1; it waits for the
// script to print "started".
func startClient(t *testing.T, dir, script string) *client {
	t.Helper()
	c := &client{cmd: exec.Command("bash", "-c", script, "bash", dir), done: make(chan error, 1)}
	c.cmd.Stderr = &c.stderr
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // to kill its children too
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.out = bufio.NewReader(out)
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := c.out.ReadString('\n')
	go func() {
		rest, _ := io.ReadAll(c.out)
		c.stderr.Write(rest) // keep what it printed, in order enough for the checks
		c.done <- c.cmd.Wait()
	}()
	t.Cleanup(func() {
		syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		<-c.done
	})
	if err != nil || line != "started\n" {
		t.Fatalf("client did not start: %q %v (stderr %q)", line, err, c.stderr.String())
	}
	return c
}

// wait waits for the client to end, failing the test if it hangs.
func (c *client) wait(t *testing.T, within time.Duration) (string, error) {
	t.Helper()
	select {
	case err := <-c.done:
		c.done <- err // for the cleanup
		return c.stderr.String(), err
	case <-time.After(within):
		t.Fatalf("client still running %v after the daemon died: it hangs (output %q)", within, c.stderr.String())
		return "", nil
	}
}

func daemonPid(t *testing.T, stdout string) int {
	t.Helper()
	m := regexp.MustCompile(`daemon pid (\d+)`).FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("nlfs mount did not name its daemon: %q", stdout)
	}
	pid, _ := strconv.Atoi(m[1])
	return pid
}

func kill9(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %d: %v", pid, err)
	}
	if !processGone(pid, 5*time.Second) {
		t.Fatalf("daemon %d survived kill -9", pid)
	}
}

// wantDead checks that dir is a mountpoint left dead by a killed daemon.
func wantDead(t *testing.T, dir string) {
	t.Helper()
	if _, err := os.Stat(dir); !deadMount(dir, err) {
		t.Fatalf("after kill -9: stat %s: %v, want transport endpoint is not connected", dir, err)
	}
}

// wantRecovered checks that nlfs mount works on dir again and gives a fresh
// mount, then unmounts it.
func wantRecovered(t *testing.T, dir string, mountArgs ...string) {
	t.Helper()
	r := nlfs(t, "", append(append([]string{"mount"}, mountArgs...), dir)...)
	if r.code != 0 {
		t.Fatalf("nlfs mount after recovery: exit %d: %s", r.code, r.stderr)
	}
	pid := daemonPid(t, r.stdout)
	if got := sh(t, "cat "+dir+"/layout"); got != "# identity: follows data, now 0-1\n" {
		t.Errorf("remounted layout %q, want the fresh 0-1", got)
	}
	if got := sh(t, "cat "+dir+"/status"); !strings.Contains(got, "generation: 0\n") || !strings.Contains(got, "last_error: none\n") {
		t.Errorf("remounted status:\n%s", got)
	}
	if r := nlfs(t, "", "umount", dir); r.code != 0 {
		t.Fatalf("nlfs umount: %d %s", r.code, r.stderr)
	}
	if !processGone(pid, 5*time.Second) || isMounted(dir) {
		t.Fatalf("after nlfs umount: daemon gone %v, mounted %v", processGone(pid, 0), isMounted(dir))
	}
}

// TestKill9DuringRead: kill -9 of the daemon while a reader reads view over
// and over. The reader's read fails instead of hanging; nlfs umount clears
// the dead mountpoint although the reader still has it open; nlfs mount
// then works there.
func TestKill9DuringRead(t *testing.T) {
	dir, pid := mountDir(t, "--pages", "256")
	sh(t, "head -c 1048576 /dev/urandom > "+dir+"/data && printf '255-0' | dd of="+dir+"/layout status=none")
	c := startClient(t, dir, `exec 3<"$1/view"; echo started; n=0
		while dd bs=1M count=1 status=none <"$1/view" >/dev/null && dd bs=64k count=4 status=none <&3 >/dev/null; do
			n=$((n+1)); [ $n = 3 ] && echo "reading" >&2
		done
		echo "reader stopped after $n rounds" >&2; exec 3<&-; sleep 30`)
	waitFor(t, "the reader's third round", 10*time.Second, func() bool { return strings.Contains(c.stderr.String(), "reading") })
	kill9(t, pid)
	// The reader's loop ends on a failed read; it then sleeps holding
	// nothing but its working directory outside the mount.
	waitFor(t, "the reader noticing the daemon's death", 5*time.Second, func() bool { return strings.Contains(c.stderr.String(), "reader stopped") })
	if s := c.stderr.String(); !strings.Contains(s, "Transport endpoint is not connected") && !strings.Contains(s, "Software caused connection abort") {
		t.Errorf("reader's error: %q", s)
	}
	wantDead(t, dir)
	r := nlfs(t, "", "umount", dir)
	if r.code != 0 {
		t.Fatalf("nlfs umount of the dead mount: exit %d: %s", r.code, r.stderr)
	}
	if isMounted(dir) {
		t.Fatal("still mounted after nlfs umount")
	}
	if names, err := readDirNames(dir, 1); err != nil || len(names) != 0 {
		t.Fatalf("mountpoint after recovery: %v %v, want an empty directory", names, err)
	}
	wantRecovered(t, dir, "--pages", "2")
}

// TestKill9DuringLayoutWrite: kill -9 of the daemon while a writer has
// written half a layout and holds `layout` open, and while a big layout is
// streaming in. The writers fail instead of hanging; nlfs mount recovers
// the dead mountpoint (while the first writer still holds its descriptor);
// the new mount knows nothing of the half-written layout.
func TestKill9DuringLayoutWrite(t *testing.T) {
	for _, tc := range []struct{ name, script string }{
		// Each says "started" once its first write has returned, so the
		// kill comes with a layout half written.
		{"half written", `exec 3>"$1/layout"; printf '1 0 ' >&3; echo started; sleep 2
			printf '1\n' >&3 || echo "write failed" >&2
			exec 3>&- || echo "close failed" >&2
			echo done >&2`},
		{"streaming", `exec 3>"$1/layout"; printf '1 0\n' >&3; echo started
			tr '\0' ' ' </dev/zero | dd bs=64k status=none >&3 || echo "write failed" >&2
			echo done >&2`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, pid := mountDir(t, "--pages", "2")
			c := startClient(t, dir, tc.script)
			kill9(t, pid)
			wantDead(t, dir)
			r := nlfs(t, "", "mount", "--pages", "2", dir)
			if r.code != 0 {
				t.Fatalf("nlfs mount over the dead mount: exit %d: %s", r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, "recovered") {
				t.Errorf("nlfs mount did not say it recovered the mountpoint: %q", r.stderr)
			}
			pid2 := daemonPid(t, r.stdout)
			out, _ := c.wait(t, 10*time.Second)
			if !strings.Contains(out, "write failed") || !strings.Contains(out, "done") {
				t.Errorf("writer after the kill: %q, want a failed write", out)
			}
			if got := sh(t, "cat "+dir+"/layout"); got != "# identity: follows data, now 0-1\n" {
				t.Errorf("new mount's layout %q, want 0-1", got)
			}
			if got := sh(t, "cat "+dir+"/status"); !strings.Contains(got, "generation: 0\n") {
				t.Errorf("new mount's status:\n%s", got)
			}
			if r := nlfs(t, "", "umount", dir); r.code != 0 {
				t.Fatalf("nlfs umount: %d %s", r.code, r.stderr)
			}
			if !processGone(pid2, 5*time.Second) || isMounted(dir) {
				t.Fatal("the recovered mount did not unmount cleanly")
			}
		})
	}
}

// TestSIGTERMWithViewOpen: SIGTERM to a background daemon while a reader holds view open
// (and reads it): the mount is detached lazily and the daemon goes on serving the reader; a
// second SIGTERM ends it, and the reader's next read fails instead of hanging.
func TestSIGTERMWithViewOpen(t *testing.T) {
	dir, pid := mountDir(t, "--pages", "4")
	// The reader counts its reads from the moment the test says the mount is detached (the
	// file detached exists), so that "still reading" means 20 reads served after the detach,
	// however slowly a loaded machine forks dd.
	detached := filepath.Join(t.TempDir(), "detached")
	c := startClient(t, dir, `exec 3<"$1/view"; echo started; n=0; after=0
		while dd bs=4096 count=1 skip=$((n % 4)) status=none <&3 >/dev/null; do n=$((n+1)); [ $n = 3 ] && echo "reading" >&2
			if [ -e `+shellquote.Quote(detached)+` ]; then after=$((after+1)); [ $after = 20 ] && echo "still reading" >&2; fi
			sleep 0.01; done
		echo "read failed" >&2`)
	waitFor(t, "the reader's third read", 10*time.Second, func() bool { return strings.Contains(c.stderr.String(), "reading") })
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the busy mount detached", 10*time.Second, func() bool { return !isMounted(dir) })
	if err := os.WriteFile(detached, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reader reading on, served by the detached daemon", 20*time.Second, func() bool { return strings.Contains(c.stderr.String(), "still reading") })
	if processGone(pid, 0) {
		t.Fatal("the daemon left while a reader held its mount's view")
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if !processGone(pid, 10*time.Second) {
		t.Fatal("daemon still running 10 s after a second SIGTERM")
	}
	if isMounted(dir) {
		t.Error("still mounted after SIGTERM")
	}
	out, _ := c.wait(t, 10*time.Second)
	if !strings.Contains(out, "read failed") {
		t.Errorf("reader after SIGTERM: %q", out)
	}
	if r := nlfs(t, "", "mount", "--pages", "2", dir); r.code != 0 {
		t.Fatalf("mount again after SIGTERM: %d %s", r.code, r.stderr)
	} else {
		nlfs(t, "", "umount", dir)
		processGone(daemonPid(t, r.stdout), 5*time.Second)
	}
}

// TestUmountBusyRefused: nlfs umount of a mount a process is using refuses
// in one line and changes nothing; --lazy detaches it, the daemon exits
// once the user lets go.
func TestUmountBusyRefused(t *testing.T) {
	dir, pid := mountDir(t, "--pages", "2")
	c := startClient(t, dir, `cd "$1" && echo started && sleep 2 && cat layout >/dev/null; echo "cwd read: $?" >&2`)
	checkOneLine(t, nlfs(t, "", "umount", dir), exitMountpoint, "is busy")
	if !isMounted(dir) || processGone(pid, 0) {
		t.Fatal("a refused umount changed the mount")
	}
	if got := sh(t, "cat "+dir+"/layout"); got != "# identity: follows data, now 0-1\n" {
		t.Errorf("layout after a refused umount: %q", got)
	}
	if r := nlfs(t, "", "umount", "--lazy", dir); r.code != 0 {
		t.Fatalf("nlfs umount --lazy: %d %s", r.code, r.stderr)
	}
	if isMounted(dir) {
		t.Error("mounted after umount --lazy")
	}
	out, _ := c.wait(t, 10*time.Second)
	if !strings.Contains(out, "cwd read: 0") {
		t.Errorf("a process inside a lazily detached mount: %q, want it still served", out)
	}
	if !processGone(pid, 10*time.Second) {
		t.Error("daemon still running after its last user left a lazily detached mount")
	}
}
