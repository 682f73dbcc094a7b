package main

// A fresh machine: /dev/fuse at 0600 until udev runs, fusermount3 perhaps
// missing. A user's mount then fails in one line that says why and what to
// do, instead of go-fuse's "fusermount exited with code 256".

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nlfs/nlfs/internal/testenv"
)

func TestFreshMachine(t *testing.T) {
	testenv.RequireFUSE(t)
	testenv.RequireRoot(t, "setpriv", "fusermount3")
	bin, dir := nobodySetup(t)
	rootDir := filepath.Join(filepath.Dir(dir), "root's")
	if err := os.Mkdir(rootDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		mode   os.FileMode
		script string
		mnt    string
		wants  []string
	}{
		{"/dev/fuse 0600", 0o600, `"$1" mount --pages 2 "$2"`, dir,
			[]string{"cannot open /dev/fuse: permission denied: it is mode 0600 (owner root), and users need 0666", "chmod 0666 /dev/fuse"}},
		{"/dev/fuse 0600, foreground", 0o600, `"$1" mount -f --pages 2 "$2"`, dir,
			[]string{"cannot open /dev/fuse: permission denied: it is mode 0600", "chmod 0666 /dev/fuse"}},
		{"no fusermount3 in PATH", 0o666, `PATH=/nonexistent "$1" mount --pages 2 "$2"`, dir,
			[]string{"needs fusermount3", "apt-get install fuse3"}},
		// fusermount3 refuses a mountpoint its user cannot write: its own
		// words are passed on, with what to do.
		{"fusermount3 refuses", 0o666, `"$1" mount --pages 2 "$2"`, rootDir,
			[]string{"fusermount3: user has no write access to mountpoint " + rootDir, "mount on a directory you own"}},
		{"fusermount3 refuses, foreground", 0o666, `"$1" mount -f --pages 2 "$2"`, rootDir,
			[]string{"fusermount3: user has no write access to mountpoint " + rootDir}},
	} {
		t.Run(c.name, func(t *testing.T) {
			devFuseMode(t, c.mode)
			r := asNobody(t, c.script, bin, c.mnt)
			for _, want := range c.wants {
				checkOneLine(t, r, exitMount, want)
			}
			if strings.Contains(r.stderr, "exited with code") {
				t.Errorf("the message is go-fuse's: %q", r.stderr)
			}
			checkNoMount(t, c.mnt)
		})
	}
}
