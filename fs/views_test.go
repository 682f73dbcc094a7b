package fs

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/nlfs/nlfs/engine"
)

// TestNamedViews: mkdir views/NAME makes a view with the main view's files, starting at the
// identity; each has its own layout; rmdir removes it; the root's status lists them.
func TestNamedViews(t *testing.T) {
	mnt, e := testMount(t, engine.Options{Source: bytes.NewReader(letters(4))})
	if got := sh(t, mnt, "ls views"); got != "" {
		t.Errorf("fresh views/: %q", got)
	}
	sh(t, mnt, "mkdir views/rev views/alias.2")
	if got := sh(t, mnt, "ls views/rev"); got != "layout\nmap\nmap.svg\nstatus\nstatus.json\nview\nvmas\n" {
		t.Errorf("ls views/rev:\n%s", got)
	}
	if got := sh(t, mnt, "cat views/rev/layout"); got != "# identity: follows data, now 0-3\n" {
		t.Errorf("a new view's layout: %q, want the identity 0-3", got)
	}
	sh(t, mnt, "echo 3-0 > views/rev/layout && echo 1 1 > views/alias.2/layout")
	for file, want := range map[string]string{"view": "ABCD", "views/rev/view": "DCBA", "views/alias.2/view": "BB"} {
		if got := pageLetters([]byte(sh(t, mnt, "cat "+file))); got != want {
			t.Errorf("cat %s: %q, want %q", file, got, want)
		}
	}
	st := status(t, mnt)
	if st["views"] != "alias.2 rev" {
		t.Errorf("root status views: %q, want \"alias.2 rev\"", st["views"])
	}
	if st["generation"] != "0" {
		t.Errorf("the main view's generation moved with other views' layouts: %s", st["generation"])
	}
	rev := statusOf(t, mnt, "views/rev/status")
	if rev["view"] != "rev" || rev["generation"] != "1" || rev["runs"] != "4" || rev["layout"] != engine.LayoutPinned {
		t.Errorf("views/rev/status: %v", rev)
	}
	if v, _ := e.View("rev"); sh(t, mnt, "cat views/rev/map") != string(v.MapText(privileged(uint32(os.Getpid())))) {
		t.Errorf("views/rev/map is not the rev view's map")
	}
	if got := strings.Count(sh(t, mnt, "cat views/rev/vmas"), "\n"); rev["backend"] != "gather" && fmt.Sprint(got) != rev["vmas"] {
		t.Errorf("views/rev/vmas has %d lines, status says %s", got, rev["vmas"])
	}

	// A bad layout in one view leaves it, and the others, as they were.
	if _, err := shErr(mnt, "printf '0 9' | dd of=views/rev/layout status=none"); err == nil {
		t.Error("a layout past the end of data was accepted by views/rev")
	}
	if got := sh(t, mnt, "cat views/rev/layout"); got != "3-0\n" {
		t.Errorf("views/rev/layout after a refusal: %q", got)
	}
	if rev := statusOf(t, mnt, "views/rev/status"); !strings.Contains(rev["last_error"], "page 9 is past the end of data") {
		t.Errorf("views/rev last_error: %q", rev["last_error"])
	}
	if st := status(t, mnt); st["last_error"] != "none" {
		t.Errorf("the main view's last_error took another view's refusal: %q", st["last_error"])
	}

	sh(t, mnt, "rmdir views/alias.2")
	if got := sh(t, mnt, "ls views"); got != "rev\n" {
		t.Errorf("views after rmdir: %q", got)
	}
	if st := status(t, mnt); st["views"] != "rev" {
		t.Errorf("root status views after rmdir: %q", st["views"])
	}
	// A name can be used again.
	sh(t, mnt, "mkdir views/alias.2")
	if got := sh(t, mnt, "cat views/alias.2/layout"); got != "# identity: follows data, now 0-3\n" {
		t.Errorf("a view made again under an old name: %q, want the identity", got)
	}
}

// TestViewNamesAndRefusals: what cannot be made, removed or renamed, and the errors.
func TestViewNamesAndRefusals(t *testing.T) {
	mnt, _ := testMount(t, engine.Options{Pages: 2})
	sh(t, mnt, "mkdir views/ok")
	for _, c := range []struct{ script, want string }{
		{"mkdir 'views/bad name'", "Invalid argument"},
		{"mkdir views/" + strings.Repeat("x", 65), "Invalid argument"},
		{"mkdir views/ok", "File exists"},
		{"mkdir top", "Operation not permitted"},
		{"mkdir views/ok/sub", "Operation not permitted"},
		{"touch newfile", "Operation not permitted"},
		{"touch views/newfile", "Operation not permitted"},
		{"touch views/ok/newfile", "Operation not permitted"},
		{"ln -s data link", "Operation not permitted"},
		{"ln data views/ok/hard", "Operation not permitted"},
		{"mv views/ok views/renamed", "Operation not permitted"},
		{"mv data data2", "Operation not permitted"},
		{"rm data", "Operation not permitted"},
		{"rm views/ok/layout", "Operation not permitted"},
		{"rmdir views", "Operation not permitted"},
		{"rmdir views/none", "No such file or directory"},
	} {
		if _, err := shErr(mnt, c.script); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.script, err, c.want)
		}
	}
	if got := sh(t, mnt, "ls views; ls"); got != "ok\ndata\nlayout\nmap\nmap.svg\nstatus\nstatus.json\nview\nviews\nvmas\n" {
		t.Errorf("after the refusals:\n%s", got)
	}
	sh(t, mnt, "mkdir views/"+strings.Repeat("x", 64)+" views/a-b_c.d")
}

// TestRmdirBusy: rmdir of a view whose file is open is EBUSY; once closed it goes. A read
// that has just finished does not count (its RELEASE may still be on its way).
func TestRmdirBusy(t *testing.T) {
	mnt, _ := testMount(t, engine.Options{Source: bytes.NewReader(letters(2))})
	sh(t, mnt, "mkdir views/a views/b")
	m := startMapper(t, mnt, "views/a/view")
	if _, err := shErr(mnt, "rmdir views/a"); err == nil || !strings.Contains(err.Error(), "Device or resource busy") {
		t.Errorf("rmdir of a view mapped by a process: %v, want EBUSY", err)
	}
	m.quit()
	sh(t, mnt, "rmdir views/a")
	sh(t, mnt, "cat views/b/status > /dev/null && rmdir views/b")
	if got := sh(t, mnt, "ls views"); got != "" {
		t.Errorf("views left: %q", got)
	}
}

// TestViewsCoherence: a write through any view, or data, shows at once in every view that
// shows the page, by read(2) and in mappings.
func TestViewsCoherence(t *testing.T) {
	mnt, _ := testMount(t, engine.Options{Source: bytes.NewReader(letters(4))})
	sh(t, mnt, "mkdir views/rev views/twice && echo 3-0 > views/rev/layout && echo 0-3 0-3 > views/twice/layout")
	revMap := startMapper(t, mnt, "views/rev/view")
	twiceMap := startMapper(t, mnt, "views/twice/view")
	mainMap := startMapper(t, mnt, "view")
	for _, m := range []*mapperClient{revMap, twiceMap, mainMap} {
		m.do("show")
	}
	check := func(when, main, rev, twice string) {
		t.Helper()
		for file, want := range map[string]string{"view": main, "views/rev/view": rev, "views/twice/view": twice} {
			if got := pageLetters([]byte(sh(t, mnt, "cat "+file))); got != want {
				t.Errorf("%s: cat %s: %q, want %q", when, file, got, want)
			}
		}
		for name, c := range map[string]struct {
			m    *mapperClient
			want string
		}{"view": {mainMap, main}, "views/rev/view": {revMap, rev}, "views/twice/view": {twiceMap, twice}} {
			if got := c.m.do("show"); got != c.want {
				t.Errorf("%s: a mapping of %s: %q, want %q", when, name, got, c.want)
			}
		}
	}
	sh(t, mnt, "printf '%4096s' | tr ' ' W | dd of=views/rev/view bs=4096 seek=0 conv=notrunc status=none") // store page 3
	check("after a write through views/rev", "ABCW", "WCBA", "ABCWABCW")
	sh(t, mnt, "printf '%4096s' | tr ' ' X | dd of=data bs=4096 seek=1 conv=notrunc status=none")
	check("after a write through data", "AXCW", "WCXA", "AXCWAXCW")
	twiceMap.ok("poke 4 Y", "msync") // store page 0
	check("after a mapping's store through views/twice", "YXCW", "WCXY", "YXCWYXCW")
}

// TestViewsShareVMABudget: two views of 40,000 runs cannot both be remap-backed; each
// view's status says which backend serves it and why.
func TestViewsShareVMABudget(t *testing.T) {
	mnt, _ := testMount(t, engine.Options{Pages: 40000})
	sh(t, mnt, "mkdir views/a views/b")
	sh(t, mnt, "echo 39999-0 > views/a/layout && echo 39999-0 > views/b/layout")
	a, b := statusOf(t, mnt, "views/a/status"), statusOf(t, mnt, "views/b/status")
	if a["backend"] == "gather" || a["runs"] != "40000" {
		t.Errorf("views/a: backend %s (%s), runs %s; want a mapping backend", a["backend"], a["backend_reason"], a["runs"])
	}
	if b["backend"] != "gather" || !strings.Contains(b["backend_reason"], "exceed the VMA budget") {
		t.Errorf("views/b: backend %s (%s); want gather for the shared VMA budget", b["backend"], b["backend_reason"])
	}
}

// statusOf parses a status file of the mount.
func statusOf(t *testing.T, mnt, file string) map[string]string {
	t.Helper()
	kv := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(sh(t, mnt, "cat "+file)), "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			t.Fatalf("%s line %q is not `key: value`", file, line)
		}
		kv[k] = v
	}
	return kv
}
