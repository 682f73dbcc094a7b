package main

// Help, completion and the man page: GNU-style help on every command, shell
// completion from the same definitions, and docs/nlfs.1 made from them too.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/nlfs/nlfs/internal/testenv"
)

// TestHelp: --help on every command prints GNU-style help on stdout and
// exits 0; options show as -f, --foreground and --pages N; internal flags
// do not show.
func TestHelp(t *testing.T) {
	var paths [][]string
	walk(newRoot(os.Stdout), func(c *cobra.Command) {
		if !c.Hidden {
			paths = append(paths, strings.Fields(c.CommandPath())[1:])
		}
	})
	if len(paths) < 10 {
		t.Fatalf("only %d commands: %v", len(paths), paths)
	}
	for _, p := range paths {
		for _, h := range []string{"--help", "-h"} {
			r := nlfs(t, "", append(p, h)...)
			name := strings.Join(append([]string{"nlfs"}, p...), " ")
			if r.code != 0 || r.stderr != "" || !strings.HasPrefix(r.stdout, "Usage: "+name) {
				t.Errorf("%s %s: exit %d, stderr %q, stdout %.80q", name, h, r.code, r.stderr, r.stdout)
			}
			for _, bad := range []string{"[=true|false]", "ready-fd", "[flags]", "help for "} {
				if strings.Contains(r.stdout, bad) {
					t.Errorf("%s %s shows %q:\n%s", name, h, bad, r.stdout)
				}
			}
			if !strings.Contains(r.stdout, "\nOptions:\n") || !strings.Contains(r.stdout, "  -h, --help   ") && !regexp.MustCompile(`\n  -h, --help +display this help and exit\n`).MatchString(r.stdout) {
				t.Errorf("%s %s has no GNU options list:\n%s", name, h, r.stdout)
			}
		}
	}
	mount := nlfs(t, "", "mount", "--help").stdout
	for _, want := range []string{"Usage: nlfs mount [OPTION]... MOUNTPOINT\n", "\n      --pages N ", "\n  -f, --foreground ", "\n  -o, --options OPTS ", "\n      --allow-other ", "(default 16)"} {
		if !strings.Contains(mount, want) {
			t.Errorf("nlfs mount --help lacks %q:\n%s", want, mount)
		}
	}
	root := nlfs(t, "", "--help").stdout
	for _, want := range []string{"Usage: nlfs COMMAND [ARG]...\n  or:  nlfs SOURCE MOUNTPOINT -o OPTIONS\n", "\nCommands:\n  mount ", "\n  umount ", "\n  completion ", "Run 'nlfs COMMAND --help'"} {
		if !strings.Contains(root, want) {
			t.Errorf("nlfs --help lacks %q:\n%s", want, root)
		}
	}
	if got := nlfs(t, "", "help", "layout", "gen"); got.stdout != nlfs(t, "", "layout", "gen", "--help").stdout {
		t.Errorf("nlfs help layout gen differs from nlfs layout gen --help:\n%s", got.stdout)
	}
	checkOneLine(t, nlfs(t, "", "help", "frob"), exitUsage, `help: no command "frob"`)
}

// TestCompletion: the scripts load in their shells, and bash completes
// commands, flags, their values and mountpoints through them.
func TestCompletion(t *testing.T) {
	for _, c := range []struct{ shell, head string }{
		{"bash", "# bash completion V2 for nlfs"},
		{"zsh", "#compdef nlfs"},
		{"fish", "# fish completion for nlfs"},
	} {
		r := nlfs(t, "", "completion", c.shell)
		if r.code != 0 || !strings.HasPrefix(r.stdout, c.head) {
			t.Errorf("completion %s: exit %d, %.60q", c.shell, r.code, r.stdout)
		}
	}
	checkOneLine(t, nlfs(t, "", "completion", "tcsh"), exitUsage, `unknown shell "tcsh"`)

	// The bash script registers itself in a real bash.
	script := filepath.Join(t.TempDir(), "nlfs.bash")
	os.WriteFile(script, []byte(nlfs(t, "", "completion", "bash").stdout), 0o644)
	if got := sh(t, "source "+script+" && complete -p nlfs"); !strings.Contains(got, "-F __start_nlfs nlfs") {
		t.Errorf("the bash script registers %q", got)
	}
	// What every script asks nlfs itself, as TAB is pressed after the
	// words: one completion a line, then the directive.
	complete := func(words ...string) []string {
		t.Helper()
		r := nlfs(t, "", append([]string{"__complete"}, words...)...)
		if r.code != 0 {
			t.Fatalf("__complete %q: exit %d %s", words, r.code, r.stderr)
		}
		var got []string
		for _, line := range strings.Split(r.stdout, "\n") {
			name, _, _ := strings.Cut(line, "\t") // a description follows a tab
			got = append(got, name)
		}
		return got
	}
	for _, c := range []struct {
		words []string
		want  []string
	}{
		{[]string{""}, []string{"mount", "umount", "demo", "apply", "layout", "completion", "help"}},
		{[]string{"mount", "--back"}, []string{"--backend"}},
		{[]string{"mount", "-"}, []string{"--pages", "--foreground", "--options"}},
		{[]string{"mount", "--backend", ""}, []string{"auto", "remap", "mmap", "gather"}},
		{[]string{"mount", "-o", "pages=3,allow"}, []string{"pages=3,allow_other", "pages=3,max_view_pages="}},
		{[]string{"mount", ""}, []string{":" + fmt.Sprint(int(cobra.ShellCompDirectiveFilterDirs))}},
		{[]string{"demo", ""}, []string{"tlpi", "ltp", "reverse", "interleave", "ring", "alias"}},
		{[]string{"layout", "gen", ""}, []string{"identity", "reverse", "rotate", "interleave", "shuffle"}},
		{[]string{"completion", ""}, []string{"bash", "zsh", "fish"}},
	} {
		got := complete(c.words...)
		for _, w := range c.want {
			if !slices.Contains(got, w) {
				t.Errorf("completing %q: %q, lacks %q", c.words, got, w)
			}
		}
		if slices.Contains(got, "--ready-fd") {
			t.Errorf("completing %q offers the internal --ready-fd", c.words)
		}
	}
	testenv.RequireFUSE(t)
	dir, _ := mountDir(t, "--pages", "2")
	if got := complete("umount", ""); !slices.Contains(got, dir) {
		t.Errorf("completing nlfs umount: %q, lacks the mount %s", got, dir)
	}
}

// TestManPage: docs/nlfs.1 is what nlfs man makes now, and man reads it.
func TestManPage(t *testing.T) {
	r := nlfs(t, "", "man")
	if r.code != 0 {
		t.Fatalf("nlfs man: %d %s", r.code, r.stderr)
	}
	committed, err := os.ReadFile("../../docs/nlfs.1")
	if err != nil || !bytes.Equal(committed, []byte(r.stdout)) {
		t.Fatalf("docs/nlfs.1 is stale (%v): regenerate it with: go run ./cmd/nlfs man > docs/nlfs.1", err)
	}
	cmd := exec.Command("man", "-l", "-")
	cmd.Stdin = strings.NewReader(r.stdout)
	cmd.Env = append(os.Environ(), "MANWIDTH=80", "MAN_KEEP_FORMATTING=0")
	page, err := cmd.Output()
	if err != nil {
		t.Fatalf("man -l: %v", err)
	}
	text := regexp.MustCompile(".\b").ReplaceAllString(string(page), "")
	for _, want := range []string{"NAME\n       nlfs - mount a nonlinear view", "SYNOPSIS", "nlfs mount [OPTION]... MOUNTPOINT",
		"-f, --foreground", "--pages N", "nlfs layout gen NAME ARG...", "EXIT STATUS", "FSTAB", fstabLine, "SEE ALSO"} {
		if !strings.Contains(text, want) {
			t.Errorf("the man page lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "ready-fd") {
		t.Error("the man page shows the internal --ready-fd")
	}
}

// TestREADMEExitCodes: the README's table of exit codes is exit.go's.
func TestREADMEExitCodes(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	want.WriteString("| code | meaning |\n|---|---|\n")
	for _, e := range exitCodes {
		fmt.Fprintf(&want, "| %d | %s |\n", e.code, e.meaning)
	}
	if !strings.Contains(string(readme), want.String()) {
		t.Errorf("README.md lacks the exit-code table of exit.go:\n%s", want.String())
	}
}

// TestQuotedHints: a hint that names a path can be pasted into a shell,
// whatever the path holds.
func TestQuotedHints(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"/tmp/v", "/tmp/v"},
		{"/mnt/my view", "'/mnt/my view'"},
		{"/mnt/it's", `'/mnt/it'\''s'`},
		{"", "''"},
		{"/a;b$c`d", "'/a;b$c`d'"},
	} {
		if got := quote(c.in); got != c.want {
			t.Errorf("quote(%q) = %s, want %s", c.in, got, c.want)
		}
		if got := sh(t, "printf %s "+quote(c.in)); got != c.in {
			t.Errorf("the shell reads %s as %q", quote(c.in), got)
		}
	}
	testenv.RequireFUSE(t)
	dir := filepath.Join(t.TempDir(), "my view's")
	os.Mkdir(dir, 0o755)
	r := nlfs(t, "", "mount", "--pages", "2", dir)
	if r.code != 0 {
		t.Fatalf("mount: %d %s", r.code, r.stderr)
	}
	t.Cleanup(func() { checkNoMount(t, dir) })
	hint := regexp.MustCompile(`stop with: (.*)\n`).FindStringSubmatch(r.stdout)
	if hint == nil {
		t.Fatalf("no hint: %q", r.stdout)
	}
	// Paste the hint, with nlfs standing for the binary.
	if out, err := exec.Command("bash", "-c", strings.Replace(hint[1], "nlfs", nlfsBin, 1)).CombinedOutput(); err != nil || isMounted(dir) {
		t.Errorf("the hint %q: %v %s", hint[1], err, out)
	}
	checkOneLine(t, nlfs(t, "", "mount", filepath.Join(dir, "no such")), exitMountpoint, "(mkdir -p "+quote(filepath.Join(dir, "no such"))+")")
}
