package main

// A catalogue of hostile input, layouts and command lines. Every hostile
// layout is tried three ways: `nlfs layout check`, a write to `layout`
// through a real mount, and `nlfs mount --layout`. Each gets EINVAL (the
// mount) or one clear line and its exit code (the CLI), and changes nothing:
// the mount keeps its layout, view and generation; a refused mount leaves no
// mount, no daemon and the directory as it was.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nlfs/nlfs/internal/testenv"
	"github.com/nlfs/nlfs/layout"
)

// hostileLayout is a layout text, given as bytes or as a shell command that
// prints it (for the 100 MB ones), with what must come of it on a store of
// 8 pages with --max-view-pages 4096: an error containing part, or (ok) the
// canonical text it reads back as.
type hostileLayout struct {
	name string
	text string
	gen  string // shell command printing the text, instead of text
	ok   bool
	part string // the error names this; for ok, the canonical text
}

var hostileLayouts = []hostileLayout{
	{name: "decimal overflow", text: "99999999999999999999", part: "line 1, column 1: number starting 9999999999999999 is too large"},
	{name: "2^52+1", text: "4503599627370497", part: "too large (the maximum is 4503599627370496)"},
	{name: "2^52", text: "4503599627370496", part: "page 4503599627370496 is past the end of data (8 pages)"},
	{name: "hex overflow", text: "0x10000000000001", part: "number starting 0x10000000000001 is too large"},
	{name: "hex 80 bits", text: "0xffffffffffffffffffff", part: "is too large"},
	{name: "hex no digits", text: "0x", part: `"0x" must be followed by hex digits`},
	{name: "hex bad digit", text: "0 0xg", part: `line 1, column 3: "0x" must be followed by hex digits`},
	{name: "hex negative", text: "0x-1", part: `"0x" must be followed by hex digits`},
	{name: "negative", text: "-1", part: `unexpected "-1"`},
	{name: "plus sign", text: "+1", part: `unexpected "+1"`},
	{name: "double dash", text: "1--2", part: `"-" must be followed by a page number`},
	{name: "open range", text: "0-", part: `"-" must be followed by a page number`},
	{name: "spaced range", text: "0 - 3", part: `line 1, column 3: unexpected "-"`},
	{name: "bare repeat", text: "*3", part: `unexpected "*3"`},
	{name: "repeat zero", text: "0*0", part: "repeat count must be at least 1"},
	{name: "open repeat", text: "0*", part: `"*" must be followed by a repeat count`},
	{name: "double star", text: "0**2", part: `"*" must be followed by a repeat count`},
	{name: "0*huge", text: "0*99999999999", part: "view would have 99999999999 pages, over the maximum of 4096 (--max-view-pages)"},
	{name: "range*huge", text: "0-7*999999999999", part: "view would have 7999999999992 pages, over the maximum of 4096"},
	{name: "0*2^52", text: "0*4503599627370496", part: "over the maximum of 4096"},
	{name: "range*2^52 after pages", text: "1 2 3 0-7*4503599627370496", part: "line 1, column 7: view would have 36028797018963971 pages"},
	{name: "one past the maximum", text: "0*4097", part: "view would have 4097 pages, over the maximum of 4096"},
	{name: "NUL", text: "\x00", part: `unexpected "\x00"`},
	{name: "NUL inside", text: "0\x001", part: `line 1, column 2: unexpected "\x001"`},
	{name: "invalid UTF-8", text: "\xff\xfe", part: `unexpected "\xff\xfe"`},
	{name: "invalid UTF-8 after a page", text: "0 \xc3\x28", part: `line 1, column 3: unexpected "\xc3("`},
	{name: "no-break space", text: "\u00a00", part: `unexpected "\u00a00"`},
	{name: "Arabic-Indic digit", text: "٣", part: `unexpected "٣"`},
	{name: "exponent", text: "1e3", part: `line 1, column 2: unexpected "e3"`},
	{name: "fraction", text: "0.5", part: `line 1, column 2: unexpected ".5"`},
	{name: "page past data", text: "8", part: "line 1, column 1: page 8 is past the end of data (8 pages)"},
	{name: "range past data", text: "0-8", part: "line 1, column 3: page 8 is past the end of data (8 pages)"},
	{name: "descending past data", text: "9-0", part: "page 9 is past the end of data (8 pages)"},
	{name: "error on line 3", text: "0\n1 # fine\n2 x", part: `line 3, column 3: unexpected "x"`},
	{name: "remap past data", text: "remap 0 1 99", part: "page 99 is past the end of data (8 pages)"},
	{name: "remap past the view", text: "remap 8 1 0", part: "remap of view page 8 runs past the end of the view (8 pages)"},
	{name: "remap past a pinned view", text: "0-3\nremap 2 5 0", part: "line 2, column 1: remap of view pages 2-6 runs past the end of the view (4 pages)"},
	{name: "remap huge view page", text: "remap 4503599627370496 1 0", part: "runs past the end of the view (8 pages)"},
	{name: "remap huge count", text: "remap 0 4503599627370496 0", part: "is past the end of data (8 pages)"},
	{name: "remap zero pages", text: "remap 0 0 1", part: "remap NPAGES must be at least 1"},
	{name: "remap two numbers", text: "remap 0 1", part: "remap takes exactly three numbers"},
	{name: "remap four numbers", text: "remap 0 1 2 3", part: "remap takes exactly three numbers"},
	{name: "remap not first", text: "0 remap 0 1 1", part: "remap must be the first entry on its line"},
	{name: "remap misspelt", text: "remapx 1 1 1", part: `unexpected "remapx"`},
	{name: "remap with a range", text: "remap 0-1 1 1", part: `line 1, column 8: unexpected "-1"`},
	{name: "100 MB number", gen: `head -c 100000000 /dev/zero | tr '\0' 1`, part: "line 1, column 1: number starting 11111111111111111 is too large"},
	{name: "100 MB of pages", gen: `yes 0 | tr '\n' ' ' | head -c 100000000`, part: "line 1, column 8193: view would have 4097 pages"},
	{name: "100 MB word", gen: `head -c 100000000 /dev/zero | tr '\0' x`, part: `line 1, column 1: unexpected "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"...`},
	// Edge cases that are fine, to show they are not refused by accident.
	{name: "100 MB comment", gen: `printf '#'; head -c 100000000 /dev/zero | tr '\0' c`, ok: true, part: "# identity: follows data, now 0-7\n"},
	{name: "100 MB of blanks", gen: `head -c 100000000 /dev/zero | tr '\0' ' '`, ok: true, part: "# identity: follows data, now 0-7\n"},
	{name: "hex", text: "0x7 0X6 0x00", ok: true, part: "7-6 0\n"},
	{name: "CRLF", text: "0\r\n1\r\n", ok: true, part: "0-1\n"},
	{name: "leading zeros", text: "0007 00", ok: true, part: "7 0\n"},
	{name: "the maximum", text: "7*4096", ok: true, part: "7*4096\n"},
}

// hostileScript returns a shell command printing the case's text.
func (c hostileLayout) script(t *testing.T) string {
	if c.gen != "" {
		return "{ " + c.gen + "; }"
	}
	f := filepath.Join(t.TempDir(), "layout")
	if err := os.WriteFile(f, []byte(c.text), 0o644); err != nil {
		t.Fatal(err)
	}
	return "cat " + f
}

func execBash(script string) *exec.Cmd { return exec.Command("bash", "-c", script) }

// shResult runs a bash script and returns its exit code and output.
func shResult(t *testing.T, script string) result {
	t.Helper()
	return runCmd(t, execBash(script))
}

// daemonHWM returns the peak resident memory of process pid, in KiB.
func daemonHWM(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return n
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// TestHostileLayouts tries every hostile layout through layout check, a
// mount and mount --layout.
func TestHostileLayouts(t *testing.T) {
	testenv.RequireFUSE(t)
	src := filepath.Join(t.TempDir(), "src")
	var letters []byte
	for i := range 8 {
		letters = append(letters, strings.Repeat(string(rune('A'+i)), 4096)...)
	}
	if err := os.WriteFile(src, letters, 0o644); err != nil {
		t.Fatal(err)
	}
	dir, pid := mountDir(t, "--source", src, "--max-view-pages", "4096")
	hwm0 := daemonHWM(t, pid)
	tried := 0
	for _, c := range hostileLayouts {
		t.Run(c.name, func(t *testing.T) {
			text := c.script(t)
			lim := layout.Limits{DataPages: 8, MaxViewPages: 4096}
			if c.text != "" { // the table agrees with the parser itself
				l, err := layout.Parse([]byte(c.text), lim)
				switch {
				case c.ok && err != nil:
					t.Fatalf("layout.Parse refuses an ok case: %v", err)
				case c.ok && layout.Canonical(l.Runs) != c.part && !l.Identity:
					t.Fatalf("layout.Parse: canonical %q, table says %q", layout.Canonical(l.Runs), c.part)
				case !c.ok && (err == nil || !strings.Contains(err.Error(), c.part)):
					t.Fatalf("layout.Parse: %v, table says %q", err, c.part)
				}
			}

			// 1. nlfs layout check.
			r := shResult(t, text+" | "+nlfsBin+" layout check --pages 8 --max-view-pages 4096 -")
			if c.ok {
				if r.code != 0 || !strings.HasPrefix(r.stdout, "-: ok") {
					t.Errorf("layout check: exit %d, %q %q", r.code, r.stdout, r.stderr)
				}
			} else {
				checkOneLine(t, r, exitLayout, c.part)
				if !strings.HasPrefix(r.stderr, "nlfs: -: line ") {
					t.Errorf("layout check does not name the file and position: %q", r.stderr)
				}
			}

			// 2. Through the mount, after a known layout.
			sh(t, "printf '7-0' | dd of="+dir+"/layout status=none")
			before := sh(t, "cat "+dir+"/layout; md5sum <"+dir+"/view; grep generation "+dir+"/status")
			r = shResult(t, text+" | dd of="+dir+"/layout bs=1M status=none")
			st := sh(t, "cat "+dir+"/status")
			if c.ok {
				if r.code != 0 {
					t.Errorf("write through the mount: exit %d: %s", r.code, r.stderr)
				}
				if got := sh(t, "cat "+dir+"/layout"); got != c.part {
					t.Errorf("layout after the write: %q, want %q", got, c.part)
				}
			} else {
				if r.code == 0 || !strings.Contains(r.stderr, "Invalid argument") {
					t.Errorf("write through the mount: exit %d, %q; want EINVAL", r.code, r.stderr)
				}
				if after := sh(t, "cat "+dir+"/layout; md5sum <"+dir+"/view; grep generation "+dir+"/status"); after != before {
					t.Errorf("the refused layout changed the mount:\n%s\n->\n%s", before, after)
				}
				if !strings.Contains(st, "last_error: layout: line ") || !strings.Contains(st, c.part) {
					t.Errorf("status does not say why:\n%s", st)
				}
			}

			// 3. nlfs mount --layout (not for the 100 MB ones: a file to
			// read whole at start-up is not a stream).
			if c.gen == "" && !c.ok {
				mnt := t.TempDir()
				f := filepath.Join(t.TempDir(), "bad layout")
				os.WriteFile(f, []byte(c.text), 0o644)
				r := nlfs(t, "", "mount", "--pages", "8", "--max-view-pages", "4096", "--layout", f, mnt)
				checkOneLine(t, r, exitLayout, c.part)
				checkNoMount(t, mnt)
				tried++
			}
			tried += 2
		})
	}
	hwm := daemonHWM(t, pid)
	msg := fmt.Sprintf("hostile layouts: %d cases, %d attempts; daemon peak RSS %d -> %d KiB", len(hostileLayouts), tried, hwm0, hwm)
	t.Log(msg)
	// 300 MB went through the mount in 1 MiB writes: the daemon's memory is
	// bounded by --max-view-pages and the request size, not by the text.
	if hwm-hwm0 > 48<<10 {
		t.Errorf("daemon peak RSS grew by %d KiB over the hostile layouts", hwm-hwm0)
	}
	if got := sh(t, "grep last_error "+dir+"/status"); got == "" {
		t.Error("daemon does not answer any more")
	}
}

// checkNoMount checks a refused mount left nothing behind at mnt.
func checkNoMount(t *testing.T, mnt string) {
	t.Helper()
	if isMounted(mnt) {
		detach(mnt)
		t.Errorf("a refused mount left %s mounted", mnt)
	}
	for _, pid := range daemonsNaming(mnt) {
		if !processGone(pid, time.Second) {
			t.Errorf("a refused mount left daemon %d running", pid)
		}
	}
}

// TestHostileArguments: command lines that must be refused in one line,
// with their exit code, changing nothing.
func TestHostileArguments(t *testing.T) {
	testenv.RequireFUSE(t)
	live, livePid := mountDir(t, "--pages", "2")
	tmp := t.TempDir()
	file := filepath.Join(tmp, "file")
	os.WriteFile(file, []byte("x"), 0o644)
	full := filepath.Join(tmp, "full")
	os.Mkdir(full, 0o755)
	os.WriteFile(filepath.Join(full, "x"), nil, 0o644)
	empty := func() string { return t.TempDir() }
	src := filepath.Join(tmp, "src")
	os.WriteFile(src, []byte("data"), 0o644)
	cwd, _ := os.Getwd()
	cases := []struct {
		name string
		args []string
		code int
		part string
	}{
		{"pages overflow", []string{"mount", "--pages", "99999999999999999999", empty()}, exitUsage, `mount: invalid value "99999999999999999999" for --pages: value out of range (see nlfs mount --help)`},
		{"pages max int64", []string{"mount", "--pages", "9223372036854775807", empty()}, exitUsage, "--pages 9223372036854775807: too large"},
		{"pages bytes overflow", []string{"mount", "--pages", "2251799813685248", empty()}, exitUsage, "too large"},
		{"pages beyond address space", []string{"mount", "--pages", "1099511627776", empty()}, exitFailure, "cannot allocate memory"},
		{"pages negative", []string{"mount", "--pages", "-5", empty()}, exitUsage, "--pages -5: want 0 or more"},
		{"pages bare hex", []string{"mount", "--pages", "0x", empty()}, exitUsage, `invalid value "0x" for --pages: not a number`},
		{"pages empty", []string{"mount", "--pages", "", empty()}, exitUsage, `invalid value "" for --pages: not a number`},
		{"pages word", []string{"mount", "--pages=abc", empty()}, exitUsage, `invalid value "abc" for --pages: not a number`},
		{"single-dash long option", []string{"mount", "-pages=3", empty()}, exitUsage, "unknown option -p"},
		{"option without its value", []string{"mount", empty(), "--pages"}, exitUsage, "option --pages needs a value"},
		{"pages float", []string{"mount", "--pages", "1.5", empty()}, exitUsage, `invalid value "1.5" for --pages: not a number`},
		{"max view zero", []string{"mount", "--max-view-pages", "0", empty()}, exitUsage, "--max-view-pages 0: want 1 or more"},
		{"max view negative", []string{"mount", "--max-view-pages", "-1", empty()}, exitUsage, "--max-view-pages -1"},
		{"max view overflow", []string{"mount", "--max-view-pages", "99999999999999999999", empty()}, exitUsage, "for --max-view-pages: value out of range"},
		{"backend empty", []string{"mount", "--backend", "", empty()}, exitUsage, `unknown backend ""`},
		{"backend upper case", []string{"mount", "--backend", "REMAP", empty()}, exitUsage, `unknown backend "REMAP"`},
		{"backend NUL-free junk", []string{"mount", "--backend", "\xff", empty()}, exitUsage, `unknown backend "\xff"`},
		{"unknown flag", []string{"mount", "--frobnicate", empty()}, exitUsage, "unknown option --frobnicate"},
		{"flag with a value it does not take", []string{"mount", "--allow-other=maybe", empty()}, exitUsage, `invalid value "maybe" for --allow-other: want true or false`},
		{"no mountpoint", []string{"mount"}, exitUsage, "missing MOUNTPOINT"},
		{"two mountpoints", []string{"mount", empty(), empty()}, exitUsage, "unexpected argument"},
		{"relative missing", []string{"mount", "no/such/dir"}, exitMountpoint, filepath.Join(cwd, "no/such/dir") + " does not exist"},
		{"empty mountpoint", []string{"mount", ""}, exitMountpoint, "is not empty"},
		{"invalid UTF-8 path", []string{"mount", filepath.Join(tmp, "\xff\xfe")}, exitMountpoint, "does not exist"},
		{"missing", []string{"mount", "/nonexistent/nlfs"}, exitMountpoint, "mountpoint /nonexistent/nlfs does not exist: create it first"},
		{"not a directory", []string{"mount", file}, exitMountpoint, "is not a directory"},
		{"not empty", []string{"mount", full}, exitMountpoint, "is not empty (it holds x)"},
		{"live mountpoint", []string{"mount", live}, exitMountpoint, "is already a mountpoint"},
		{"source missing", []string{"mount", "--source", "/nonexistent", empty()}, exitUsage, "no such file or directory"},
		{"source a directory", []string{"mount", "--source", tmp, empty()}, exitUsage, "is a directory"},
		{"layout missing", []string{"mount", "--layout", "/nonexistent", empty()}, exitUsage, "no such file or directory"},
		{"pages and source", []string{"mount", "--pages", "4", "--source", src, empty()}, exitUsage, "--pages and --source both size the store"},
		{"umount nothing", []string{"umount"}, exitUsage, "missing MOUNTPOINT"},
		{"umount not mounted", []string{"umount", empty()}, exitMountpoint, "is not mounted"},
		{"umount missing", []string{"umount", "/nonexistent/nlfs"}, exitMountpoint, "is not mounted"},
		{"umount unknown flag", []string{"umount", "--frob", live}, exitUsage, "umount: unknown option --frob (see nlfs umount --help)"},
		{"layout nothing", []string{"layout"}, exitUsage, "want check, fmt, show or gen"},
		{"layout unknown", []string{"layout", "frob"}, exitUsage, `unknown subcommand "frob"`},
		{"layout check no file", []string{"layout", "check"}, exitUsage, "missing FILE"},
		{"layout check missing file", []string{"layout", "check", "/nonexistent"}, exitUsage, "no such file or directory"},
		{"layout check bad pages", []string{"layout", "check", "--pages", "x", "-"}, exitUsage, `layout check: invalid value "x" for --pages: not a number (see nlfs layout check --help)`},
		{"gen nothing", []string{"layout", "gen"}, exitUsage, "missing generator name"},
		{"gen huge", []string{"layout", "gen", "reverse", "100000000000"}, exitUsage, "N must be from 0 to 1048576"},
		{"gen overflow", []string{"layout", "gen", "reverse", "99999999999999999999"}, exitUsage, `"99999999999999999999" is not a number`},
		{"gen bare hex", []string{"layout", "gen", "reverse", "0x"}, exitUsage, `"0x" is not a number`},
		{"gen negative", []string{"layout", "gen", "reverse", "-1"}, exitUsage, "N must be from 0 to 1048576, got -1"},
		{"gen missing K", []string{"layout", "gen", "rotate", "4"}, exitUsage, "wrong number of arguments for rotate"},
		{"gen zero K", []string{"layout", "gen", "interleave", "8", "0"}, exitUsage, "K must be at least 1"},
		{"apply no layout", []string{"apply", "--source", src}, exitUsage, "--layout FILE is required"},
		{"apply missing layout", []string{"apply", "--layout", "/nonexistent", "--source", src}, exitUsage, "no such file or directory"},
		{"demo unknown", []string{"demo", "nosuch"}, exitUsage, `no demo named "nosuch"`},
		{"unknown command", []string{"frob"}, exitUsage, `unknown command "frob"`},
		{"command is a flag", []string{"--pages", "3"}, exitUsage, "unknown option --pages (see nlfs --help)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var dir string
			if c.args[0] == "mount" {
				dir = c.args[len(c.args)-1]
			}
			var before []string
			if dir != "" {
				before, _ = readDirNames(dir, -1)
			}
			r := nlfs(t, "", c.args...)
			checkOneLine(t, r, c.code, c.part)
			if r.stdout != "" {
				t.Errorf("stdout %q: a refusal prints nothing but its line on stderr", r.stdout)
			}
			if dir != "" && dir != live {
				abs, _ := filepath.Abs(dir)
				checkNoMount(t, abs)
				after, _ := readDirNames(dir, -1)
				if fmt.Sprint(after) != fmt.Sprint(before) {
					t.Errorf("%s changed: %v -> %v", dir, before, after)
				}
			}
		})
	}
	// The live mount is untouched.
	if got := sh(t, "cat "+live+"/layout; grep generation "+live+"/status"); got != "# identity: follows data, now 0-1\ngeneration: 0\n" || processGone(livePid, 0) {
		t.Errorf("live mount after the hostile arguments: %q", got)
	}
	// No command at all shows the usage, then says what is wrong last.
	r := nlfs(t, "")
	if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); r.code != exitUsage || lines[len(lines)-1] != "nlfs: no command given" {
		t.Errorf("nlfs with no command: exit %d, stderr %q", r.code, r.stderr)
	}
	msg := fmt.Sprintf("hostile arguments: %d cases", len(cases)+1)
	t.Log(msg)
}
