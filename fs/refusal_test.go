package fs

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nlfs/nlfs/engine"
)

// TestRefusals: every refusal a writer can meet, with the errno it gets at each call (the
// write, the close, the truncate or the open), all through one mapping (errno.go); each
// leaves the layout in force and says why in status. Appending is refused at the open,
// whatever the file's size: the kernel sends an O_APPEND write at whatever size it cached,
// so anything later would refuse by chance.
func TestRefusals(t *testing.T) {
	ps := pageSize
	cases := []struct {
		name    string
		setup   string   // shell, in the mount, before the calls
		calls   []string // for the calls client; {} stands for the mountpoint
		want    []string // one answer per call
		lastErr string   // in status afterwards
	}{
		{"seek", "", []string{"open:{}/layout:wt", "pwrite:0:0 1", "pwrite:10:2", "close"},
			[]string{"ok", "ok", "EINVAL", "EINVAL"}, "write at offset 10, want 3"},
		{"append to an empty layout", ": > layout", []string{"open:{}/layout:wa"},
			[]string{"EINVAL"}, "append: a layout is written whole"},
		{"append", "", []string{"open:{}/layout:wa"},
			[]string{"EINVAL"}, "append: a layout is written whole"},
		{"bad text", "", []string{"open:{}/layout:wt", "pwrite:0:0 x\n", "close"},
			[]string{"ok", "EINVAL", "EINVAL"}, "line 1, column 3"},
		{"page past data", "", []string{"open:{}/layout:wt", "pwrite:0:0 9\n", "close"},
			[]string{"ok", "EINVAL", "EINVAL"}, "line 1, column 3: page 9 is past the end of data (4 pages)"},
		{"view too large", "", []string{"open:{}/layout:wt", "pwrite:0:0*100\n", "close"},
			[]string{"ok", "EINVAL", "EINVAL"}, "line 1, column 1"},
		{"remap outside the view", "", []string{"open:{}/layout:wt", "pwrite:0:0 1\nremap 1 2 0\n", "close"},
			[]string{"ok", "ok", "EINVAL"}, "line 2, column 1"},
		{"truncate layout by descriptor", "", []string{"open:{}/layout:w", "ftruncate:5", "close"},
			[]string{"ok", "EINVAL", "ok"}, "truncate to 5 bytes"},
		{"truncate layout by path", "", []string{"truncate:{}/layout:5"},
			[]string{"EINVAL"}, "truncate to 5 bytes"},
		{"write past the view's end", "", []string{"open:{}/view:w", "pwrite:" + strconv.Itoa(4*ps) + ":x", "close"},
			[]string{"ok", "EFBIG", "ok"}, "past the end of the view"},
		{"write to a page that is gone", "echo 0-3 > layout && truncate -s " + strconv.Itoa(ps) + " data",
			[]string{"open:{}/view:w", "pwrite:" + strconv.Itoa(2*ps) + ":x", "close"},
			[]string{"ok", "ENXIO", "ok"}, "past the end of data (1 pages)"},
		{"truncate view", "", []string{"open:{}/view:w", "ftruncate:5", "close"},
			[]string{"ok", "EINVAL", "ok"}, "the view's size follows the layout"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mnt, _ := testMount(t, engine.Options{Source: bytes.NewReader(letters(4)), MaxViewPages: 8})
			sh(t, mnt, "echo 3-0 > layout")
			if c.setup != "" {
				sh(t, mnt, c.setup)
			}
			before := sh(t, mnt, "cat layout")
			gen := status(t, mnt)["generation"]
			args := slices.Clone(c.calls)
			for i := range args {
				args[i] = strings.ReplaceAll(args[i], "{}", mnt)
			}
			if got := calls(t, mnt, args...); !slices.Equal(got, c.want) {
				t.Errorf("calls %v: %v, want %v", c.calls, got, c.want)
			}
			if got := sh(t, mnt, "cat layout"); got != before {
				t.Errorf("layout after the refusal: %q, want %q unchanged", got, before)
			}
			st := status(t, mnt)
			if st["generation"] != gen {
				t.Errorf("generation %s, want %s unchanged", st["generation"], gen)
			}
			if !strings.Contains(st["last_error"], c.lastErr) {
				t.Errorf("last_error %q, want it to contain %q", st["last_error"], c.lastErr)
			}
			if parts := strings.SplitN(st["last_error"], ": ", 3); len(parts) == 3 && parts[0] == parts[1] {
				t.Errorf("last_error %q says its operation twice", st["last_error"])
			}
			if got := pageLetters([]byte(sh(t, mnt, "cat data"))); len(got) > 0 && !strings.HasPrefix("ABCD", got) {
				t.Errorf("data after the refusal: %q", got)
			}
		})
	}
}
