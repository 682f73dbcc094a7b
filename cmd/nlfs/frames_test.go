package main

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/nlfs/nlfs/internal/testenv"
)

// TestFramesOnlyForThePrivileged: physical frame numbers are for a reader the kernel would
// show them to (CAP_SYS_ADMIN, as pagemap since Linux 4.0): the privilege of each reader is
// checked, not the daemon's. Another user, allowed in by --allow-other, reads labels (f1,
// f2…) in map and map.svg that still prove which view pages share a frame.
func TestFramesOnlyForThePrivileged(t *testing.T) {
	testenv.RequireFUSE(t)
	testenv.RequireRoot(t, "setpriv")
	dir, _ := secureMount(t, openDir(t), "--allow-other")
	sh(t, `cd `+dir+` && for c in A B; do head -c 4096 /dev/zero | tr '\0' $c; done > data && echo '0 1 0' > layout`)
	hex := regexp.MustCompile(`frame (0x[0-9a-f]+|f\d+)`)
	for _, who := range []struct {
		name  string
		run   func(script string) (string, int, string)
		label bool
	}{
		{"root", func(s string) (string, int, string) {
			r := runCmd(t, exec.Command("bash", "-c", s, "bash", dir))
			return r.stdout, r.code, r.stderr
		}, false},
		{"nobody", func(s string) (string, int, string) {
			r := asNobody(t, s, dir)
			return r.stdout, r.code, r.stderr
		}, true},
	} {
		for _, file := range []string{"map", "map.svg"} {
			out, code, stderr := who.run(`cat "$1/` + file + `"`)
			if code != 0 {
				t.Fatalf("%s: cat %s: exit %d: %s", who.name, file, code, stderr)
			}
			frames := hex.FindAllStringSubmatch(out, -1)
			if len(frames) == 0 {
				t.Fatalf("%s: %s names no frame:\n%s", who.name, file, out)
			}
			for _, f := range frames {
				if isLabel := strings.HasPrefix(f[1], "f"); isLabel != who.label {
					t.Errorf("%s reads %q in %s; want labels: %v", who.name, f[0], file, who.label)
				}
			}
			if file == "map" && who.label && !strings.Contains(out, "frame f1: view 0, 2") {
				t.Errorf("%s: map does not prove view pages 0 and 2 share a frame:\n%s", who.name, out)
			}
		}
	}
}
