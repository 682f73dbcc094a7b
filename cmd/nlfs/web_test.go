package main

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/nlfs/nlfs/internal/testenv"
)

// TestLivePage: nlfs mount --http serves the live page from the daemon: the address with its
// token is printed, held by the 0400 file web, printed again by nlfs web; status names the
// address without the token; the page takes layouts; without the token it refuses.
func TestLivePage(t *testing.T) {
	testenv.RequireFUSE(t)
	dir := t.TempDir()
	r := nlfs(t, "", "mount", "--pages", "3", "--http", "127.0.0.1:0", dir)
	if r.code != 0 {
		t.Fatalf("mount --http: %s", r.stderr)
	}
	t.Cleanup(func() { nlfs(t, "", "umount", dir) })
	m := regexp.MustCompile(`nlfs: live page: (http://127\.0\.0\.1:\d+/)\?token=([0-9a-f]+)\n`).FindStringSubmatch(r.stdout)
	if m == nil || len(m[2]) < 32 {
		t.Fatalf("mount --http printed %q, want the live page's address with a token of 128 bits or more", r.stdout)
	}
	url := m[1] + "?token=" + m[2]
	if got := sh(t, "stat -c %a "+dir+"/web; cat "+dir+"/web"); got != "400\n"+url+"\n" {
		t.Errorf("the web file: %q, want mode 400 and %q", got, url)
	}
	if w := nlfs(t, "", "web", dir); w.code != 0 || w.stdout != url+"\n" {
		t.Errorf("nlfs web: exit %d, %q %q", w.code, w.stdout, w.stderr)
	}
	if got := sh(t, "grep '^web:' "+dir+"/status"); got != "web: "+m[1]+"\n" {
		t.Errorf("status %q, want web: %s (no token)", got, m[1])
	}

	req, _ := http.NewRequest(http.MethodPut, m[1]+"layout?token="+m[2], strings.NewReader("2 1 0\n"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("PUT /layout: %s", resp.Status)
	}
	if got := sh(t, "cat "+dir+"/layout"); got != "2-0\n" {
		t.Errorf("layout after the page's PUT: %q", got)
	}
	resp, err = http.Get(m[1] + "status")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /status without the token: %s %q", resp.Status, body)
	}

	plain, _ := mountDir(t, "--pages", "1")
	checkOneLine(t, nlfs(t, "", "web", plain), exitMountpoint, "has no live page: mount it with --http ADDR")
	checkOneLine(t, nlfs(t, "", "web", t.TempDir()), exitMountpoint, "is not an nlfs mount")
}
