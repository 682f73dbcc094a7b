package main

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nlfs/nlfs/internal/testenv"
)

// TestDemoWeb: nlfs demo --web runs the demo, then stays mounted with its live page until
// Ctrl-C, which unmounts and ends it.
func TestDemoWeb(t *testing.T) {
	testenv.RequireFUSE(t)
	cmd := exec.Command(nlfsBin, "demo", "tlpi", "--web")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var out strings.Builder
	var url, dir string
	for deadline := time.After(30 * time.Second); !strings.Contains(out.String(), "Ctrl-C unmounts"); {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the demo ended before waiting:\n%s", out.String())
			}
			out.WriteString(l + "\n")
			if m := regexp.MustCompile(`^(http://127\.0\.0\.1:\d+/\?token=[0-9a-f]+)$`).FindStringSubmatch(l); m != nil {
				url = m[1]
			}
			if m := regexp.MustCompile(`\(d=(\S+)\)`).FindStringSubmatch(l); m != nil {
				dir = m[1]
			}
		case <-deadline:
			t.Fatalf("no Ctrl-C line within 30 s:\n%s", out.String())
		}
	}
	if url == "" || dir == "" || !isMounted(dir) {
		t.Fatalf("the demo printed no live page address (%q) or mount (%q, mounted %v):\n%s", url, dir, isMounted(dir), out.String())
	}
	resp, err := http.Get(strings.Replace(url, "/?token=", "/layout?token=", 1))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "2-0\n" {
		t.Errorf("the demo's live page: GET /layout %s %q, want the TLPI layout 2-0", resp.Status, body)
	}
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error)
	go func() {
		for range lines {
		}
		done <- cmd.Wait()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("demo --web after Ctrl-C: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("demo --web did not end within 15 s of Ctrl-C")
	}
	if isMounted(dir) {
		t.Errorf("demo --web left %s mounted", dir)
	}
}

// TestDemoCtrlC: Ctrl-C at the terminal (SIGINT to the demo's whole process group) while the
// demo runs its commands ends it with exit code 130 and nothing said, its mount and temporary
// directory taken away. It once exited 130, 1 or 11 as the race went, saying "signal:
// interrupt".
func TestDemoCtrlC(t *testing.T) {
	testenv.RequireFUSE(t)
	for _, after := range []string{"$ nlfs mount", "$ cat $d/layout", "$ cat $d/vmas"} {
		t.Run(after, func(t *testing.T) {
			cmd := exec.Command(nlfsBin, "demo", "tlpi")
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a terminal's foreground group
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); cmd.Wait() })
			var dir string
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if m := regexp.MustCompile(`^# d is (\S+)$`).FindStringSubmatch(sc.Text()); m != nil {
					dir = m[1]
				}
				if strings.HasPrefix(sc.Text(), after) {
					break
				}
			}
			if dir == "" {
				t.Fatalf("the demo never said its directory, or never ran %q", after)
			}
			syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
			go io.Copy(io.Discard, stdout)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != 130 {
					t.Errorf("the demo after Ctrl-C: %v, want exit code 130", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("the demo did not end within 20 s of Ctrl-C")
			}
			if stderr.Len() != 0 {
				t.Errorf("the demo said on Ctrl-C: %q, want nothing", stderr.String())
			}
			if isMounted(dir) {
				t.Errorf("Ctrl-C left %s mounted", dir)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("Ctrl-C left the demo's directory %s: %v", dir, err)
			}
		})
	}
}
