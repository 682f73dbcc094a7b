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

// TestStoreKeepsWhatItCannotResume: a saved layout that no longer fits the store (shrunk
// behind its back) is not resumed, in one line, and stays saved: once the store is grown
// again, the next mount resumes it.
func TestStoreKeepsWhatItCannotResume(t *testing.T) {
	store := filepath.Join(t.TempDir(), "store")
	dir, pid := mountDir(t, "--store", store, "--pages", "4")
	sh(t, fmt.Sprintf(`cd %q && echo 3-0 > layout && mkdir views/a && echo 2 > views/a/layout`, dir))
	nlfs(t, "", "umount", dir)
	processGone(pid, 5*time.Second)
	if err := os.Truncate(store, 4096); err != nil {
		t.Fatal(err)
	}
	small := t.TempDir()
	r := nlfs(t, "", "mount", "--store", store, small)
	if r.code != 0 {
		t.Fatalf("mount of the shrunk store: %d %s", r.code, r.stderr)
	}
	if n := strings.Count(r.stderr, "was not resumed"); n != 2 {
		t.Errorf("notes of layouts not resumed: %d, want 2 (%q)", n, r.stderr)
	}
	if got := sh(t, fmt.Sprintf(`cat %q/layout %q/views/a/layout`, small, small)); !strings.HasPrefix(got, "# identity") {
		t.Errorf("the views on the shrunk store: %q, want the identity", got)
	}
	nlfs(t, "", "umount", small)
	if err := os.Truncate(store, 4*4096); err != nil {
		t.Fatal(err)
	}
	again := t.TempDir()
	r = nlfs(t, "", "mount", "--store", store, again)
	t.Cleanup(func() { nlfs(t, "", "umount", again) })
	if r.code != 0 || strings.Contains(r.stderr, "not resumed") {
		t.Fatalf("mount of the store grown again: %d %q", r.code, r.stderr)
	}
	if got := sh(t, fmt.Sprintf(`cat %q/layout %q/views/a/layout`, again, again)); got != "3-0\n2\n" {
		t.Errorf("after growing the store again: %q, want the saved layouts 3-0 and 2", got)
	}
}

// TestStoreThroughSymlink: a store named through a symlink is the file it names: a second
// mount through the link is refused naming the daemon that holds it.
func TestStoreThroughSymlink(t *testing.T) {
	tmp := t.TempDir()
	store := filepath.Join(tmp, "store")
	dir, pid := mountDir(t, "--store", store, "--pages", "2")
	link := filepath.Join(tmp, "link")
	if err := os.Symlink(store, link); err != nil {
		t.Fatal(err)
	}
	r := nlfs(t, "", "mount", "--store", link, t.TempDir())
	checkOneLine(t, r, exitStore, fmt.Sprintf("is held by the nlfs daemon %d serving %s", pid, quote(dir)))
}
