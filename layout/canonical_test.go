package layout

import (
	"testing"

	"github.com/nlfs/nlfs/run"
)

func TestCanonical(t *testing.T) {
	tests := []struct {
		pages []int64
		want  string
	}{
		{nil, "\n"},
		{[]int64{5}, "5\n"},
		{[]int64{0, 1, 2, 3, 7, 6, 5, 4}, "0-3 7-4\n"},
		{[]int64{2, 1, 0}, "2-0\n"},
		{[]int64{0, 0, 0}, "0*3\n"},
		{[]int64{0, 1, 0, 1}, "0-1*2\n"},
		{[]int64{0, 0, 0, 1}, "0*2 0-1\n"},
		{[]int64{0, 1, 0, 1, 0}, "0-1*2 0\n"},
		{[]int64{7, 7, 3, 3}, "7*2 3*2\n"},
		{[]int64{3, 2, 3, 4}, "3-2 3-4\n"},
		{[]int64{1, 0, 1, 0, 1, 0}, "1-0*3\n"},
		{[]int64{4, 5, 4, 3}, "4-5 4-3\n"},
		{[]int64{9, 3, 5, 7}, "9 3 5 7\n"},
		{[]int64{1, 2, 3, 2, 1}, "1-3 2-1\n"},
		{[]int64{1048575, 0}, "1048575 0\n"},
	}
	for _, tc := range tests {
		if got := Canonical(Compile(tc.pages)); got != tc.want {
			t.Errorf("Canonical(%v) = %q, want %q", tc.pages, got, tc.want)
		}
	}
}

// TestCanonicalRuns checks that Canonical reads runs as a page sequence, whether or not they are
// maximal, and skips empty runs.
func TestCanonicalRuns(t *testing.T) {
	split := []run.Run{{View: 0, File: 0, Count: 2}, {View: 2, File: 2, Count: 0}, {View: 2, File: 2, Count: 2}, {View: 4, File: 9, Count: 1}, {View: 5, File: 8, Count: 1}}
	if got, want := Canonical(split), "0-3 9-8\n"; got != want {
		t.Errorf("Canonical(%v) = %q, want %q", split, got, want)
	}
	if got, want := Canonical(run.Identity(1<<20)), "0-1048575\n"; got != want {
		t.Errorf("Canonical(Identity(1<<20)) = %q, want %q", got, want)
	}
	if got, want := string(AppendCanonical([]byte("x: "), run.Identity(2))), "x: 0-1\n"; got != want {
		t.Errorf("AppendCanonical = %q, want %q", got, want)
	}
	// 70,000 runs of two pages: one entry, not a 280,000-byte line.
	var twice []run.Run
	for i := range int64(70000) {
		twice = append(twice, run.Run{View: 2 * i, File: 0, Count: 2})
	}
	if got, want := Canonical(twice), "0-1*70000\n"; got != want {
		t.Errorf("Canonical(0-1*70000) = %q, want %q", got, want)
	}
}

// TestIdentityText: the identity reads as a comment that names the pages now in view, and
// written back it is still the identity, whatever the store's size.
func TestIdentityText(t *testing.T) {
	for _, c := range []struct {
		pages int64
		want  string
	}{
		{16, "# identity: follows data, now 0-15\n"},
		{1, "# identity: follows data, now 0\n"},
		{0, "# identity: follows data, now empty\n"},
		{-1, "# identity: follows data\n"},
	} {
		text := IdentityText(c.pages)
		if string(text) != c.want {
			t.Errorf("IdentityText(%d) = %q, want %q", c.pages, text, c.want)
		}
		l, err := Parse(text, Limits{DataPages: 5})
		if err != nil || !l.Identity {
			t.Errorf("IdentityText(%d) = %q parses to %+v, %v: not the identity", c.pages, text, l, err)
		}
	}
	// A pinned view of the same pages reads as its range: the two read differently.
	if got := Canonical(run.Identity(16)); got != "0-15\n" {
		t.Errorf("pinned 0-15 reads %q", got)
	}
}

func TestIdentity(t *testing.T) {
	if got := run.Identity(0); got != nil {
		t.Errorf("Identity(0) = %v, want nil", got)
	}
	if got := run.Identity(3); len(got) != 1 || got[0] != (run.Run{View: 0, File: 0, Count: 3}) {
		t.Errorf("Identity(3) = %v, want [{0 0 3}]", got)
	}
}
