package main

// A read-only store (-o ro, --read-only): data and every view refuse writes, truncates and
// writable shared mappings with EROFS (an open for writing is refused, so a descriptor that
// could map the file for writing never exists); layouts still apply and named views can be
// made, as they change no byte of the store; status, mount(8) and df say it.

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nlfs/nlfs/internal/fusetest"
	"github.com/nlfs/nlfs/internal/testenv"
)

func TestReadOnly(t *testing.T) {
	testenv.RequireFUSE(t)
	src := filepath.Join(t.TempDir(), "src")
	store := letterPages("ABCD")
	os.WriteFile(src, store, 0o644)
	t.Run("-o ro", func(t *testing.T) {
		dir, _ := mountDir(t, "--source", src, "-o", "ro")
		fusetest.RecordConn(t, dir)
		for _, c := range []struct {
			name, script, want string
		}{
			{"echo > data", `echo x > data`, "Read-only file system"},
			{"append to data", `echo x >> data`, "Read-only file system"},
			{"dd into view", `dd if=/dev/zero of=view bs=4096 count=1 conv=notrunc status=none`, "Read-only file system"},
			{"truncate data by name", `python3 -c "import os; os.truncate('data', 0)"`, "Read-only file system"},
			{"truncate view by name", `truncate -s 0 view`, "Read-only file system"},
			{"touch data", `touch data`, "Read-only file system"},
			{"open data read-write", `python3 -c "import os; os.open('data', os.O_RDWR)"`, "Read-only file system"},
			{"writable shared mapping of data", `python3 -c "
import mmap, os
fd = os.open('data', os.O_RDONLY)
mmap.mmap(fd, 4096, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)"`, "Permission denied"},
			{"writable shared mapping of view", `python3 -c "
import mmap, os
fd = os.open('view', os.O_RDONLY)
mmap.mmap(fd, 4096, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)"`, "Permission denied"},
			{"write a named view", `mkdir views/r && echo '3 2' > views/r/layout && echo x > views/r/view`, "Read-only file system"},
		} {
			t.Run(c.name, func(t *testing.T) {
				stop := fusetest.Watchdog(t, dir, fusetest.ShTimeout, c.script)
				defer stop()
				_, err := fusetest.ShErr(dir, c.script)
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Errorf("%s: %v, want an error saying %q", c.script, err, c.want)
				}
			})
		}
		// Layouts apply; nothing of the store changed.
		got := fusetest.Sh(t, dir, `echo '3 1 1 0' > layout && cat layout && fold -b -w 4096 view | cut -c 1 | paste -sd ' ' && cat views/r/layout && grep -E '^(generation|last_error|read_only):' status && cmp data `+quote(src)+` && stat -c '%A %n' data view views/r/view && df --output=source . | tail -1`)
		want := "3 1 1-0\nD B B A\n3-2\ngeneration: 1\nlast_error: none\nread_only: yes\n-r--r--r-- data\n-r--r--r-- view\n-r--r--r-- views/r/view\nnlfs:ro\n"
		if got != want {
			t.Errorf("on the read-only mount:\n%s\nwant:\n%s", got, want)
		}
		if json := fusetest.Sh(t, dir, "cat status.json"); !strings.Contains(json, `"read_only":"yes"`) {
			t.Errorf("status.json lacks read_only yes: %s", json)
		}
		if m, _ := mountAt(dir); m == nil || m.Source != "nlfs:ro" {
			t.Errorf("the mount table's source for %s is %v, want nlfs:ro", dir, m)
		}
		if b, _ := os.ReadFile(src); !bytes.Equal(b, store) {
			t.Error("the source file changed")
		}
	})
	// The other ways to say it, and to take it back (mount(8) passes rw when ro is not asked).
	for _, c := range []struct {
		how  []string
		want string
	}{
		{[]string{"--read-only"}, "read_only: yes\nnlfs:ro\n"},
		{[]string{"-r"}, "read_only: yes\nnlfs:ro\n"},
		{[]string{"-o", "rw,ro"}, "read_only: yes\nnlfs:ro\n"},
		{[]string{"-o", "read_only"}, "read_only: yes\nnlfs:ro\n"},
		{[]string{"-o", "ro,rw"}, "read_only: no\nnlfs\n"},
		{nil, "read_only: no\nnlfs\n"},
	} {
		t.Run(strings.Join(c.how, " "), func(t *testing.T) {
			dir, _ := mountDir(t, append([]string{"--pages", "1"}, c.how...)...)
			fusetest.RecordConn(t, dir)
			script := `grep read_only status && df --output=source . | tail -1 && echo x > data`
			stop := fusetest.Watchdog(t, dir, fusetest.ShTimeout, script)
			got, err := fusetest.ShErr(dir, script)
			stop()
			if got != c.want || (err != nil) != strings.HasSuffix(c.want, ":ro\n") {
				t.Errorf("%s: %q (%v), want %q", script, got, err, c.want)
			}
		})
	}
}
