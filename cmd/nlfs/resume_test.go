package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStoreResumesEveryView: every name a view may have is saved and resumed by the next
// mount of the store, ".x" and "..." too (the save's temporary files cannot be taken for a
// view); what cannot be resumed is said in one line at the mount, never dropped silently; and
// after a clean unmount nobody is named as the store's holder.
func TestStoreResumesEveryView(t *testing.T) {
	store := filepath.Join(t.TempDir(), "store")
	dir, pid := mountDir(t, "--store", store, "--pages", "4")
	names := []string{".x", "...", "a-b_c.1", strings.Repeat("z", 64)}
	for i, name := range names {
		sh(t, fmt.Sprintf(`cd %q && mkdir views/%q && echo %d > views/%q/layout`, dir, name, i, name))
	}
	if r := nlfs(t, "", "umount", dir); r.code != 0 {
		t.Fatalf("umount: %s", r.stderr)
	}
	processGone(pid, 5*time.Second)
	if _, err := os.Stat(filepath.Join(store+".nlfs", "daemon")); !os.IsNotExist(err) {
		t.Errorf("after a clean unmount the store still names a holder (%s.nlfs/daemon: %v)", store, err)
	}
	// A saved view that is not a file: said at the mount, left where it is.
	if err := os.Mkdir(filepath.Join(store+".nlfs", "views", "odd"), 0o700); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	r := nlfs(t, "", "mount", "--store", store, other)
	if r.code != 0 {
		t.Fatalf("remount: exit %d: %s", r.code, r.stderr)
	}
	t.Cleanup(func() { nlfs(t, "", "umount", other) })
	var noted []string
	for _, line := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
		if strings.Contains(line, "odd") {
			noted = append(noted, line)
		}
	}
	if len(noted) != 1 || !strings.Contains(noted[0], "not a regular file") {
		t.Errorf("the mount's notes about views/odd: %q, want one line saying it is not a saved layout (stderr %q)", noted, r.stderr)
	}
	for i, name := range names {
		if got := sh(t, fmt.Sprintf(`cat %q`, filepath.Join(other, "views", name, "layout"))); got != fmt.Sprintf("%d\n", i) {
			t.Errorf("view %q after the remount: layout %q, want %d", name, got, i)
		}
	}
}
