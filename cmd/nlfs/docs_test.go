package main

// The documentation is tested like code. Every ```console block of README.md and docs/*.md is
// a transcript: "$ " starts a command ("> " continues it), the lines after it are what it
// prints. TestDocsConsole runs each file's commands in order in one bash, with the nlfs under
// test first on PATH, and compares what they print with what the file shows. A line "…" stands
// for any number of lines, "…" inside a line for any text; addresses, device and inode numbers,
// frame numbers and process ids are compared by their shape, since they change from run to run.
// Output after "<!-- as root -->" is compared only when the test runs as root. TestDocLinks
// fails on a link that does not resolve inside the repository.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nlfs/nlfs/internal/testenv"
)

// docCommand is one command of a console block and the output the file shows for it.
type docCommand struct {
	file   string
	line   int // of the "$ " line, from 1
	cmd    string
	want   []string
	asRoot bool // the output is compared only as root
}

// docMountpoints are the paths the docs mount at, and docStores the store files they name; the
// test uses fresh ones instead (a store on tmpfs too, as the docs advise).
var (
	docMountpoints = []string{"/tmp/nlfs-tutorial", "/tmp/nlfs-docs"}
	docStores      = []string{"/dev/shm/nlfs-readme"}
)

// docCommands reads the console blocks of a Markdown file.
func docCommands(t *testing.T, path string) []docCommand {
	t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cmds []docCommand
	in, root := false, false
	indent := "" // of the block's fence: a block in a list item is indented with it
	lines := strings.Split(string(text), "\n")
	for i, line := range lines {
		if in {
			line = strings.TrimPrefix(line, indent)
		}
		switch {
		case !in && strings.TrimSpace(line) == "```console":
			in = true
			indent = line[:strings.Index(line, "`")]
			root = i > 0 && strings.TrimSpace(lines[i-1]) == "<!-- as root -->"
		case in && strings.TrimSpace(line) == "```":
			in = false
		case !in:
		case strings.HasPrefix(line, "$ "):
			cmds = append(cmds, docCommand{file: path, line: i + 1, cmd: line[2:], asRoot: root})
		case strings.HasPrefix(line, "> ") && len(cmds) > 0 && len(cmds[len(cmds)-1].want) == 0:
			cmds[len(cmds)-1].cmd += "\n" + line[2:]
		case len(cmds) == 0:
			t.Fatalf("%s:%d: console block output before any command", path, i+1)
		default:
			cmds[len(cmds)-1].want = append(cmds[len(cmds)-1].want, line)
		}
	}
	if in {
		t.Fatalf("%s: unterminated console block", path)
	}
	return cmds
}

// docRun runs commands in one bash in a fresh directory (with nlfs on PATH and as ./nlfs) and
// returns what each printed, stdout and stderr together.
func docRun(t *testing.T, cmds []docCommand) []string {
	t.Helper()
	work := t.TempDir()
	if err := os.Symlink(nlfsBin, filepath.Join(work, "nlfs")); err != nil {
		t.Fatal(err)
	}
	var mnts, stores []string
	subst := func(s string) string {
		for i, m := range docMountpoints {
			s = strings.ReplaceAll(s, m, mnts[i])
		}
		for i, st := range docStores {
			s = strings.ReplaceAll(s, st, stores[i])
		}
		return s
	}
	for _, m := range docMountpoints {
		mnts = append(mnts, filepath.Join(work, filepath.Base(m)))
	}
	shm := "/dev/shm"
	if _, err := os.Stat(shm); err != nil {
		shm = work
	}
	for _, st := range docStores {
		stores = append(stores, filepath.Join(shm, fmt.Sprintf("%s-test-%d-%s", filepath.Base(st), os.Getpid(), filepath.Base(work))))
	}
	t.Cleanup(func() {
		for _, m := range mnts {
			if isMounted(m) {
				detach(m)
				t.Errorf("the commands left %s mounted", m)
			}
		}
		for _, st := range stores {
			os.Remove(st)
			os.RemoveAll(st + ".nlfs")
		}
	})
	const marker = "@@nlfs-doc-command@@"
	var script strings.Builder
	// Each command runs with $? the previous one left, as in a shell typed into by hand.
	script.WriteString("__rc=0\n")
	for i, c := range cmds {
		fmt.Fprintf(&script, "printf '\\n%s %d\\n'; (exit $__rc)\n%s\n__rc=$?\n", marker, i, subst(c.cmd))
	}
	script.WriteString("printf '\\n" + marker + " end\\n'\n")
	cmd := exec.Command("bash", "-c", script.String())
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "PATH="+work+":"+os.Getenv("PATH"), "LC_ALL=C")
	out, _ := cmd.CombinedOutput()
	parts := strings.Split(string(out), "\n"+marker+" ")
	if len(parts) != len(cmds)+2 {
		t.Fatalf("the commands stopped early (%d of %d ran):\n%s", len(parts)-2, len(cmds), out)
	}
	got := make([]string, len(cmds))
	for i := range cmds {
		p := parts[i+1]
		_, p, _ = strings.Cut(p, "\n") // the marker's number
		for j, m := range mnts {
			p = strings.ReplaceAll(p, m, docMountpoints[j])
		}
		for j, st := range stores {
			p = strings.ReplaceAll(p, st, docStores[j])
		}
		p = strings.ReplaceAll(p, work+"/", "/tmp/") // what else lies beside the mountpoints
		got[i] = p
	}
	return got
}

var docShapes = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`\b[0-9a-f]{8,16}-[0-9a-f]{8,16}\b`), "ADDR-ADDR"},                      // address ranges
	{regexp.MustCompile(`\b([0-9a-f]{8}) [0-9a-f]{2,3}:[0-9a-f]{2,3} +\d+ +`), "$1 DEV INODE "}, // device, inode
	{regexp.MustCompile(`frame 0x[0-9a-f]+`), "frame 0xFRAME"},
	{regexp.MustCompile(`daemon pid \d+`), "daemon pid N"},
}

// docShape reduces a line to what does not change from run to run.
func docShape(line string) string {
	for _, s := range docShapes {
		line = s.re.ReplaceAllString(line, s.with)
	}
	return strings.TrimRight(line, " ")
}

// docMatch reports whether got (lines) is what want shows, "…" lines and "…" in lines matching
// anything.
func docMatch(want, got []string) bool {
	if len(want) == 0 {
		return len(got) == 0
	}
	if strings.TrimSpace(want[0]) == "…" {
		for i := 0; i <= len(got); i++ {
			if docMatch(want[1:], got[i:]) {
				return true
			}
		}
		return false
	}
	if len(got) == 0 {
		return false
	}
	w, g := docShape(want[0]), docShape(got[0])
	if strings.Contains(w, "…") {
		parts := strings.Split(w, "…")
		for i := range parts {
			parts[i] = regexp.QuoteMeta(parts[i])
		}
		if !regexp.MustCompile("^" + strings.Join(parts, ".*") + "$").MatchString(g) {
			return false
		}
	} else if w != g {
		return false
	}
	return docMatch(want[1:], got[1:])
}

// docCheck runs a file's console blocks and compares each command's output.
func docCheck(t *testing.T, path string) ([]docCommand, []string) {
	t.Helper()
	testenv.RequireFUSE(t)
	cmds := docCommands(t, path)
	if len(cmds) == 0 {
		t.Fatalf("%s has no console block", path)
	}
	return cmds, docCompare(t, cmds)
}

// docCompare runs commands and compares each one's output with what its file shows; it returns
// what they printed.
func docCompare(t *testing.T, cmds []docCommand) []string {
	t.Helper()
	got := docRun(t, cmds)
	root := os.Geteuid() == 0
	for i, c := range cmds {
		lines := strings.Split(strings.TrimSuffix(got[i], "\n"), "\n")
		if got[i] == "" {
			lines = nil
		}
		if c.asRoot && !root {
			continue
		}
		if !docMatch(c.want, lines) {
			t.Errorf("%s:%d: $ %s\nshows:\n%s\nprints:\n%s", c.file, c.line, c.cmd, strings.Join(c.want, "\n"), got[i])
		}
	}
	return got
}

// docAnswers matches a link from the course to one of its answers.
var docAnswers = regexp.MustCompile(`\]\(tutorial-answers\.md#([a-z0-9-]+)\)`)

// docCourse reads the course: the console blocks of docs/tutorial.md with, at each link to an
// answer, the console blocks of that answer's section of docs/tutorial-answers.md, so that the
// commands run in the order a reader runs them. Every command of an answer must be shown in its
// question (in the text since the heading before the link): the reader runs them from there.
func docCourse(t *testing.T, course, answers string) []docCommand {
	t.Helper()
	text, err := os.ReadFile(course)
	if err != nil {
		t.Fatal(err)
	}
	atext, err := os.ReadFile(answers)
	if err != nil {
		t.Fatal(err)
	}
	// The answers' sections: the line each heading starts, by its anchor.
	aLines := strings.Split(string(atext), "\n")
	type section struct{ from, to int }
	sections := map[string]section{}
	last := ""
	for i, line := range aLines {
		if m := docHeading.FindStringSubmatch(line); m != nil && strings.HasPrefix(line, "## ") {
			if last != "" {
				sections[last] = section{sections[last].from, i + 1}
			}
			last = strings.ReplaceAll(docSlugStrip.ReplaceAllString(strings.ToLower(strings.ReplaceAll(m[1], "`", "")), ""), " ", "-")
			sections[last] = section{i + 1, len(aLines) + 1}
		}
	}
	answerCmds := docCommands(t, answers)
	lines := strings.Split(string(text), "\n")
	var out []docCommand
	courseCmds := docCommands(t, course)
	next := 0
	used := map[string]bool{}
	for i, line := range lines {
		m := docAnswers.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		for next < len(courseCmds) && courseCmds[next].line < i+1 {
			out = append(out, courseCmds[next])
			next++
		}
		sec, ok := sections[m[1]]
		if !ok {
			t.Fatalf("%s:%d: no section #%s in %s", course, i+1, m[1], answers)
		}
		question := ""
		for j := i; j >= 0; j-- {
			if strings.HasPrefix(lines[j], "#") {
				question = strings.Join(lines[j:i], "\n") + "\n"
				break
			}
		}
		n := 0
		for _, c := range answerCmds {
			if c.line < sec.from || c.line >= sec.to {
				continue
			}
			if !strings.Contains(question, "\n"+c.cmd+"\n") {
				t.Errorf("%s:%d: the answer runs %q, which its question (%s:%d) does not show", answers, c.line, c.cmd, course, i+1)
			}
			out = append(out, c)
			n++
		}
		if n == 0 {
			t.Errorf("%s: the answer #%s runs no command", answers, m[1])
		}
		used[m[1]] = true
	}
	out = append(out, courseCmds[next:]...)
	for anchor := range sections {
		if !used[anchor] {
			t.Errorf("%s: no question of the course links to the answer #%s", answers, anchor)
		}
	}
	return out
}

// TestTutorial runs the course, docs/tutorial.md with its answers in their places, and checks
// the claims it makes beyond the outputs it shows.
func TestTutorial(t *testing.T) {
	testenv.RequireFUSE(t)
	cmds := docCourse(t, "../../docs/tutorial.md", "../../docs/tutorial-answers.md")
	got := docCompare(t, cmds)
	// Section 2: after a layout, the view's address has moved (the new mapping is built beside
	// the old one, then put in its place).
	var starts []string
	for i, c := range cmds {
		if c.cmd == "cat vmas" && len(starts) < 2 {
			starts = append(starts, strings.SplitN(got[i], "-", 2)[0])
		}
	}
	if len(starts) != 2 || starts[0] == starts[1] || starts[0] == "" {
		t.Errorf("the course says the view moves after a layout; the first two vmas start at %q", starts)
	}
	if os.Geteuid() != 0 {
		return
	}
	// Exercise 3: view pages 0 and 1 have one frame, view page 2 another.
	for i, c := range cmds {
		if c.cmd != "grep -- '-> store' map" {
			continue
		}
		m := regexp.MustCompile(`frame (0x[0-9a-f]+)`).FindAllStringSubmatch(got[i], -1)
		if len(m) != 3 || m[0][1] != m[1][1] || m[1][1] == m[2][1] {
			t.Errorf("exercise 3 says one frame behind view pages 0 and 1 and another behind 2; map says:\n%s", got[i])
		}
		return
	}
	t.Error("the tutorial no longer greps map for the frames")
}

// TestDocsConsole runs the console blocks of the other documents.
func TestDocsConsole(t *testing.T) {
	files, _ := filepath.Glob("../../docs/*.md")
	files = append(files, "../../README.md")
	for _, f := range files {
		if strings.HasSuffix(f, "tutorial.md") || strings.HasSuffix(f, "tutorial-answers.md") {
			continue // TestTutorial runs the course
		}
		text, _ := os.ReadFile(f)
		if !strings.Contains(string(text), "```console") {
			continue
		}
		t.Run(filepath.Base(f), func(t *testing.T) { docCheck(t, f) })
	}
}

// TestDocCommandShapes: the comparison can fail, on each kind of difference it allows for.
func TestDocCommandShapes(t *testing.T) {
	for _, c := range []struct {
		want, got []string
		ok        bool
	}{
		{[]string{"a", "…", "d"}, []string{"a", "b", "c", "d"}, true},
		{[]string{"a", "…"}, []string{"a"}, true},
		{[]string{"a", "…", "d"}, []string{"a", "b", "c"}, false},
		{[]string{"x: … (y)"}, []string{"x: 12 (y)"}, true},
		{[]string{"x: … (y)"}, []string{"x: 12 (z)"}, false},
		{[]string{"7f0b00000000-7f0b00001000 rw-s 00002000 00:01 44079   /memfd:nlfs-data (deleted)"},
			[]string{"7f4d32e27000-7f4d32e28000 rw-s 00002000 00:01 37965                      /memfd:nlfs-data (deleted)"}, true},
		{[]string{"7f0b00000000-7f0b00001000 rw-s 00002000 00:01 44079   /memfd:nlfs-data (deleted)"},
			[]string{"7f4d32e27000-7f4d32e28000 rw-s 00001000 00:01 37965   /memfd:nlfs-data (deleted)"}, false},
		{[]string{"view 0 -> store 0  'Z'  frame 0x14e7b9"}, []string{"view 0 -> store 0  'Z'  frame 0x235008"}, true},
		{[]string{"view 0 -> store 0  'Z'  frame 0x14e7b9"}, []string{"view 0 -> store 1  'Z'  frame 0x14e7b9"}, false},
		{[]string{"a"}, []string{"a", "b"}, false},
		{nil, nil, true},
	} {
		if got := docMatch(c.want, c.got); got != c.ok {
			t.Errorf("docMatch(%q, %q) = %v", c.want, c.got, got)
		}
	}
}

var (
	docLink      = regexp.MustCompile(`!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	docRefLink   = regexp.MustCompile(`(?m)^\s*\[[^\]]+\]:\s*(\S+)`)
	docAutoLink  = regexp.MustCompile(`<([a-zA-Z][a-zA-Z0-9+.-]*:[^>\s]*)>`)
	docCodeSpan  = regexp.MustCompile("`[^`\n]*`")
	docHeading   = regexp.MustCompile(`(?m)^#{1,6}\s+(.+?)\s*#*\s*$`)
	docSlugStrip = regexp.MustCompile(`[^\p{L}\p{N} _-]`)
)

// docProse is a Markdown file without its code: fenced blocks and code spans hold commands and
// output, not links.
func docProse(text string) string { return docCodeSpan.ReplaceAllString(docNoFences(text), "``") }

// docNoFences is a Markdown file with its fenced blocks blanked (lines kept).
func docNoFences(text string) string {
	var b strings.Builder
	fence := false
	for _, line := range strings.SplitAfter(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fence = !fence
			b.WriteString("\n")
			continue
		}
		if fence {
			b.WriteString("\n")
			continue
		}
		b.WriteString(line)
	}
	return b.String()
}

// docAnchors are the anchors a Markdown file's headings get, as GitHub makes them.
func docAnchors(text string) map[string]bool {
	anchors := map[string]bool{}
	seen := map[string]int{}
	for _, m := range docHeading.FindAllStringSubmatch(docNoFences(text), -1) {
		slug := strings.ReplaceAll(docSlugStrip.ReplaceAllString(strings.ToLower(strings.ReplaceAll(m[1], "`", "")), ""), " ", "-")
		if n := seen[slug]; n > 0 {
			anchors[fmt.Sprintf("%s-%d", slug, n)] = true
		} else {
			anchors[slug] = true
		}
		seen[slug]++
	}
	return anchors
}

// docBadLinks lists the links of the Markdown file at path (text) that do not resolve inside
// the repository at root: links with a scheme (they point outside it), files that do not exist
// or lie outside root, and anchors no heading makes.
func docBadLinks(root, path, text string) []string {
	prose := docProse(text)
	var targets []string
	for _, re := range []*regexp.Regexp{docLink, docRefLink, docAutoLink} {
		for _, m := range re.FindAllStringSubmatch(prose, -1) {
			targets = append(targets, m[1])
		}
	}
	var bad []string
	for _, target := range targets {
		file, anchor, _ := strings.Cut(target, "#")
		switch {
		case regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`).MatchString(target) || strings.HasPrefix(target, "//"):
			bad = append(bad, target+": points outside the repository")
			continue
		case strings.HasPrefix(file, "/"):
			bad = append(bad, target+": an absolute path, not a file of the repository")
			continue
		}
		resolved := path
		if file != "" {
			resolved = filepath.Join(filepath.Dir(path), file)
			if rel, err := filepath.Rel(root, resolved); err != nil || strings.HasPrefix(rel, "..") {
				bad = append(bad, target+": outside the repository")
				continue
			}
			if _, err := os.Stat(resolved); err != nil {
				bad = append(bad, target+": no such file in the repository")
				continue
			}
		}
		if anchor == "" {
			continue
		}
		body := text
		if file != "" {
			b, err := os.ReadFile(resolved)
			if err != nil || !strings.HasSuffix(resolved, ".md") {
				bad = append(bad, target+": an anchor into a file that is not Markdown")
				continue
			}
			body = string(b)
		}
		if !docAnchors(body)[anchor] {
			bad = append(bad, target+": no heading makes the anchor #"+anchor)
		}
	}
	return bad
}

// TestDocLinks: every link of README.md and docs/*.md resolves inside the repository (a clone
// has nothing else), anchors included.
func TestDocLinks(t *testing.T) {
	root, _ := filepath.Abs("../..")
	files, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	files = append(files, filepath.Join(root, "README.md"))
	links := 0
	for _, f := range files {
		text, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		links += len(docLink.FindAllString(docProse(string(text)), -1))
		for _, b := range docBadLinks(root, f, string(text)) {
			t.Errorf("%s: %s", f[len(root)+1:], b)
		}
	}
	if links == 0 {
		t.Error("no links found: the link check looks at nothing")
	}
}

// TestDocLinksCatch: the link check fails on each kind of bad link, and not on good ones.
func TestDocLinksCatch(t *testing.T) {
	root, _ := filepath.Abs("../..")
	readme := filepath.Join(root, "README.md")
	for _, c := range []struct {
		text string
		bad  int
	}{
		{"see [design](../shared/DESIGN.md)", 1},
		{"see [web](https://example.org/x)", 1},
		{"see <https://example.org/x>", 1},
		{"[ref]: http://example.org", 1},
		{"see [gone](docs/nosuch.md)", 1},
		{"see [abs](/etc/passwd)", 1},
		{"see [anchor](docs/tutorial.md#no-such-heading)", 1},
		{"# A `b` heading\nsee [here](#a-b-heading) and [there](docs/tutorial.md#before-you-start)", 0},
		{"see [tutorial](docs/tutorial.md), and `[not a link](https://x)` in code", 0},
		{"```\n[in a block](https://x)\n```\n", 0},
	} {
		if got := docBadLinks(root, readme, c.text); len(got) != c.bad {
			t.Errorf("%q: bad links %q, want %d", c.text, got, c.bad)
		}
	}
}

// docBlockAfter is the first ```sh block after the heading line head in the Markdown file at path.
func docBlockAfter(t *testing.T, path, head string) []string {
	t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(text), "\n"+head+"\n")
	if !ok {
		t.Fatalf("%s has no heading %q", path, head)
	}
	_, rest, ok = strings.Cut(rest, "```sh\n")
	if !ok {
		t.Fatalf("%s: no sh block after %q", path, head)
	}
	block, _, _ := strings.Cut(rest, "```")
	return strings.Split(strings.TrimSuffix(block, "\n"), "\n")
}

// TestInstallOneWay: the README and the course install nlfs the same way, and each line works as
// written for root, who has no sudo on many machines: a sudo form is a comment for users, never a
// step chained to the others (a reader's `… && sudo install …` stopped at "sudo: command not
// found", installing nothing).
func TestInstallOneWay(t *testing.T) {
	readme := docBlockAfter(t, "../../README.md", "## Install")
	course := docBlockAfter(t, "../../docs/tutorial.md", "## Before you start")
	if strings.Join(readme, "\n") != strings.Join(course, "\n") {
		t.Errorf("the README installs with\n%s\nthe course with\n%s", strings.Join(readme, "\n"), strings.Join(course, "\n"))
	}
	want := []string{"go build -o nlfs ./cmd/nlfs", "install nlfs /usr/local/bin/", "command -v nlfs"}
	if len(readme) != len(want) {
		t.Fatalf("the install block has %d lines, want %d: %q", len(readme), len(want), readme)
	}
	for i, line := range readme {
		cmd, _, _ := strings.Cut(line, "#")
		if strings.TrimSpace(cmd) != want[i] {
			t.Errorf("install line %d runs %q, want %q", i+1, strings.TrimSpace(cmd), want[i])
		}
	}
}
