package fs

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nlfs/nlfs/engine"
)

// TestLayoutFromShells: the ways people write a layout from a shell or a script, each put in
// force once and whole, or refused whole with the previous layout left in force. Every close
// of every copy of the descriptor sends a FLUSH — a command forked inside `{ …; } > layout`
// sends one when it exits — and only the close of a process that wrote through the file
// applies what it holds (the FLUSH's lock owner tells processes apart).
func TestLayoutFromShells(t *testing.T) {
	cases := []struct {
		name   string
		script string
		want   string // the layout afterwards
		gens   int    // layouts applied by the script
		err    string // in last_error afterwards ("" for none)
	}{
		{"echo", `echo '1 0' > layout`, "1-0\n", 1, ""},
		{"printf | dd", `printf '2 3' | dd of=layout status=none`, "2-3\n", 1, ""},
		{"tee", `echo '0 2' | tee layout >/dev/null`, "0 2\n", 1, ""},
		{"group with a forked command between two writes", `{ echo '0 1'; /bin/true; echo '2 3'; } > layout`, "0-3\n", 1, ""},
		{"group refused after a pause in a forked sleep", `{ printf '0 1 '; sleep 0.1; printf '99\n'; } > layout 2>/dev/null || true`, "3-0\n", 0, "page 99 is past the end of data"},
		{"group whose forked command writes last", `{ echo 2; /bin/echo 1; } > layout`, "2-1\n", 1, ""},
		{"group whose forked command writes first", `{ /bin/echo 3; echo 2; } > layout`, "3-2\n", 1, ""},
		{"group of forked commands only", `{ /bin/echo 1; /bin/echo 0; } > layout`, "1-0\n", 1, ""},
		{"group whose parts are refused only together", `{ /usr/bin/printf 1; echo 0; } > layout 2>/dev/null || true`, "3-0\n", 0, "page 10 is past the end of data"},
		{"group whose first part alone would be refused", `{ /bin/echo 'remap 0 1 3'; echo 0-3; } > layout`, "3 1-3\n", 1, ""},
		{"group refused at its end", `{ echo 0-3; echo 'remap 3 2 0'; } > layout`, "3-0\n", 0, "runs past the end of the view"},
		{"exec 3> with a forked writer", `exec 3> layout; /bin/echo 1 >&3; echo 2 >&3; exec 3>&-`, "1-2\n", 1, ""},
		{"a writer killed mid-layout", `true; { printf '0 1 '; sleep 1; printf '2\n'; } | dd of=layout status=none & pid=$!
			for i in $(seq 500); do [ "$(readlink /proc/$pid/fd/1)" = "$PWD/layout" ] && break; sleep 0.01; done; kill -9 $pid; wait $pid || true`, "3-0\n", 0, "killed before it closed the file"},
		{"a python writer killed mid-layout", `python3 -c "
import os, signal
f = open('layout', 'w'); f.write('0 1'); f.flush()
os.kill(os.getpid(), signal.SIGKILL)" || true`, "3-0\n", 0, "killed before it closed the file"},
		{"exec 3>", `exec 3> layout; echo '1 0' >&3; /bin/true; echo 3 >&3; exec 3>&-`, "1-0 3\n", 1, ""},
		{"refused write, then a forked command", `{ echo 'x'; /bin/true; } > layout 2>/dev/null || true`, "3-0\n", 0, "line 1, column 1"},
		// The shell's close at the end of the group is the close for good, and applies 2 3; the
		// background child that writes after it is refused, and nothing is applied a second
		// time (it was, over any layout written meanwhile).
		{"group with a background child that writes after the group ends", `{ echo 2 3; (sleep 0.3; echo 0 0 2>/dev/null) & } > layout; wait`, "2-3\n", 1, "was applied when it was closed for good"},
		{"python writes, forks, closes", `python3 -c "
import os
f = open('layout', 'w')
f.write('3 1\n'); f.flush()
pid = os.fork()
if pid == 0:
    os._exit(0)
os.waitpid(pid, 0)
f.close()"`, "3 1\n", 1, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mnt, _ := testMount(t, engine.Options{Source: bytes.NewReader(letters(4))})
			sh(t, mnt, "echo 3-0 > layout")
			gen := generation(t, mnt)
			sh(t, mnt, c.script)
			if got := sh(t, mnt, "cat layout"); got != c.want {
				t.Errorf("layout %q, want %q", got, c.want)
			}
			st := status(t, mnt)
			if got := atoi(t, st["generation"]) - gen; got != int64(c.gens) {
				t.Errorf("%d layouts applied, want %d", got, c.gens)
			}
			if c.err == "" && st["last_error"] != "none" || !strings.Contains(st["last_error"], c.err) {
				t.Errorf("last_error %q, want %q", st["last_error"], c.err)
			}
		})
	}
}

// TestTruncateLayoutAppliesOnce: `: > layout` writes nothing, so the empty layout is applied
// when the file is released — after close(2) returned, from a goroutine of its own (a
// RELEASE may not wait for the kernel's caches) —, once, and never over a layout written
// after it (the kernel may deliver the RELEASE after the next session's close: it is then
// dropped, as a layout written before the one in force).
func TestTruncateLayoutAppliesOnce(t *testing.T) {
	mnt, _ := testMount(t, engine.Options{Source: bytes.NewReader(letters(4))})
	sh(t, mnt, "echo 3-0 > layout")
	gen := generation(t, mnt)
	sh(t, mnt, ": > layout")
	waitFor(t, "the empty layout applied at release", func() bool { return generation(t, mnt) == gen+1 })
	if got := sh(t, mnt, "cat layout"); !strings.HasPrefix(got, "# identity") && got != "0-3\n" {
		t.Errorf("layout after : > layout: %q, want the identity", got)
	}
	// A layout written right after a truncate is the one in force afterwards.
	for i := range 40 {
		want := strconv.Itoa(i%4) + "\n"
		before := generation(t, mnt)
		sh(t, mnt, ": > layout; echo "+strconv.Itoa(i%4)+" > layout")
		if got := sh(t, mnt, "cat layout"); got != want {
			t.Fatalf("round %d: layout %q, want %q (the later layout)", i, got, want)
		}
		if g := generation(t, mnt); g != before+1 && g != before+2 {
			t.Fatalf("round %d: %d layouts applied, want 2 (or 1, the empty one dropped)", i, g-before)
		}
	}
}

func generation(t *testing.T, mnt string) int64 { return atoi(t, status(t, mnt)["generation"]) }

// waitFor polls cond until it holds, failing the test after a while.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10 s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
