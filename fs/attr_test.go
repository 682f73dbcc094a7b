package fs

import (
	"bytes"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nlfs/nlfs/engine"
)

// statLine is `stat -c FORMAT` of names in the mount, one line each.
func statLine(t *testing.T, mnt, format string, names ...string) []string {
	t.Helper()
	return strings.Split(strings.TrimSpace(sh(t, mnt, "stat -c '"+format+"' "+strings.Join(names, " "))), "\n")
}

// mtimeOf is name's modification time, to the nanosecond (`stat -c %.9Y`).
func mtimeOf(t *testing.T, mnt, name string) time.Time {
	t.Helper()
	field := statLine(t, mnt, "%.9Y", name)[0]
	sec, nsec, _ := strings.Cut(field, ".")
	s, err1 := strconv.ParseInt(sec, 10, 64)
	ns, err2 := strconv.ParseInt(nsec, 10, 64)
	if err1 != nil || err2 != nil || len(nsec) != 9 {
		t.Fatalf("stat %%.9Y of %s: %q is not seconds.nanoseconds", name, field)
	}
	return time.Unix(s, ns)
}

// clockPast returns once the clock reads later than ts, so that a change made after it is
// stamped later than ts.
func clockPast(t *testing.T, ts time.Time) {
	t.Helper()
	for deadline := time.Now().Add(time.Second); !time.Now().After(ts); {
		if time.Now().After(deadline) {
			t.Fatalf("the clock did not pass %v within a second", ts)
		}
		runtime.Gosched()
	}
}

// TestAttributes: link counts, inode numbers, times and modes are real, and a change the
// mount cannot make is refused instead of reported done.
func TestAttributes(t *testing.T) {
	before := time.Now().Add(-time.Second)
	mnt, _ := testMount(t, engine.Options{Source: bytes.NewReader(letters(4))})
	files := []string{"data", "layout", "view", "map", "map.svg", "vmas", "status", "status.json"}
	for i, line := range statLine(t, mnt, "%n %h %i %F", files...) {
		if want := files[i] + " 1 "; !strings.HasPrefix(line, want) || !strings.HasSuffix(line, " regular file") {
			t.Errorf("stat: %q, want %q… regular file", line, want)
		}
	}
	if got := statLine(t, mnt, "%h %i %F", ".")[0]; got != "2 1 directory" {
		t.Errorf("stat of the mount root: %q, want links 2, inode 1, a directory", got)
	}
	mounted := mtimeOf(t, mnt, "status")
	if mounted.Before(before) || mounted.After(time.Now()) {
		t.Errorf("status's mtime %v is not the mount's time", mounted)
	}
	for _, name := range []string{"data", "layout", "view", "map", "."} {
		if got := mtimeOf(t, mnt, name); !got.Equal(mounted) {
			t.Errorf("%s's mtime %v before any change, want the mount's time %v", name, got, mounted)
		}
	}

	clockPast(t, mounted)
	sh(t, mnt, "echo 3-0 > layout")
	laid := mtimeOf(t, mnt, "layout")
	if !laid.After(mounted) {
		t.Errorf("layout's mtime %v did not move after a layout (mount %v)", laid, mounted)
	}
	if got := mtimeOf(t, mnt, "data"); !got.Equal(mounted) {
		t.Errorf("data's mtime moved with a layout: %v", got)
	}
	if got := mtimeOf(t, mnt, "view"); !got.Equal(laid) {
		t.Errorf("view's mtime %v, want the layout's %v", got, laid)
	}
	clockPast(t, laid)
	sh(t, mnt, "printf x | dd of=view conv=notrunc status=none")
	wrote := mtimeOf(t, mnt, "data")
	if !wrote.After(laid) {
		t.Errorf("data's mtime %v did not move after a write through view", wrote)
	}
	if got := mtimeOf(t, mnt, "view"); !got.Equal(wrote) {
		t.Errorf("view's mtime %v, want data's %v (the later)", got, wrote)
	}
	if got := statLine(t, mnt, "%.9Y %.9Z", "data")[0]; strings.Fields(got)[0] != strings.Fields(got)[1] {
		t.Errorf("data's mtime and ctime differ: %s", got)
	}
	if got := mtimeOf(t, mnt, "map"); !got.Equal(mounted) {
		t.Errorf("map's mtime %v, want the mount's", got)
	}

	// touch sets data's time; chmod and chown are refused and change nothing.
	sh(t, mnt, "touch -d '2001-02-03 04:05:06 UTC' data")
	if got := mtimeOf(t, mnt, "data").UTC().Format(time.DateTime); got != "2001-02-03 04:05:06" {
		t.Errorf("touch -d data: mtime %s", got)
	}
	for _, cmd := range []string{"chmod 600 data", "chmod 666 layout", "chmod 755 status", "chown 1:1 view", "chmod 700 .", "touch layout"} {
		if out, err := shErr(mnt, cmd); err == nil || !strings.Contains(err.Error(), "Operation not permitted") {
			t.Errorf("%s: %q, %v; want Operation not permitted", cmd, out, err)
		}
	}
	if got := statLine(t, mnt, "%a", "data", "layout", "status", "view"); strings.Join(got, " ") != "644 644 444 644" {
		t.Errorf("modes after refused chmods: %v", got)
	}
}

// TestStatfs: df shows the store: its pages in use as used.
func TestStatfs(t *testing.T) {
	mnt, e := testMount(t, engine.Options{Pages: 0})
	sh(t, mnt, "head -c 1M /dev/zero | tr '\\0' x > data")
	fields := strings.Fields(strings.Split(sh(t, mnt, "df -B4096 --output=size,used,avail ."), "\n")[1])
	used, _ := strconv.ParseInt(fields[1], 10, 64)
	if want := e.StoreUsage() / 4096; used != want || used < 256 {
		t.Errorf("df used %d pages, want %d (the store's, at least the 256 written)", used, want)
	}
	size, _ := strconv.ParseInt(fields[0], 10, 64)
	if size < used {
		t.Errorf("df size %d below used %d", size, used)
	}
}

// TestGeneratedSizes: the size stat gives a generated file is the size of the text an open
// gives now, even while another descriptor of the file, opened before a change, stays open.
func TestGeneratedSizes(t *testing.T) {
	mnt, _ := testMount(t, engine.Options{Source: bytes.NewReader(letters(4))})
	for _, file := range []string{"vmas", "map", "status", "status.json"} {
		out := sh(t, mnt, `echo 0 > layout; exec 7<`+file+`; echo 3-0 > layout; echo "$(stat -c %s `+file+`) $(cat `+file+` | wc -c)"; exec 7<&-`)
		var size, read int
		if _, err := fmt.Sscan(out, &size, &read); err != nil || size != read {
			t.Errorf("%s with an older descriptor open: stat says %d bytes, a read gives %d (%q)", file, size, read, out)
		}
	}
}
