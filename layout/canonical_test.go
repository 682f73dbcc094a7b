package layout

import "testing"

func TestCanonical(t *testing.T) {
	tests := []struct {
		pages []int64
		want  string
	}{
		{nil, "\n"},
		{[]int64{5}, "5\n"},
		{[]int64{0, 1, 2, 3, 7, 6, 5, 4}, "0-3 7-4\n"},
		{[]int64{2, 1, 0}, "2-0\n"},
		{[]int64{0, 0, 0}, "0 0 0\n"},
		{[]int64{0, 1, 0, 1}, "0-1 0-1\n"},
		{[]int64{3, 2, 3, 4}, "3-2 3-4\n"},
		{[]int64{1, 0, 1, 0, 1, 0}, "1-0 1-0 1-0\n"},
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
	split := []Run{{0, 0, 2}, {2, 2, 0}, {2, 2, 2}, {4, 9, 1}, {5, 8, 1}}
	if got, want := Canonical(split), "0-3 9-8\n"; got != want {
		t.Errorf("Canonical(%v) = %q, want %q", split, got, want)
	}
	if got, want := Canonical(Identity(1<<20)), "0-1048575\n"; got != want {
		t.Errorf("Canonical(Identity(1<<20)) = %q, want %q", got, want)
	}
	if got, want := string(AppendCanonical([]byte("x: "), Identity(2))), "x: 0-1\n"; got != want {
		t.Errorf("AppendCanonical = %q, want %q", got, want)
	}
}

func TestIdentity(t *testing.T) {
	if got := Identity(0); got != nil {
		t.Errorf("Identity(0) = %v, want nil", got)
	}
	if got := Identity(3); len(got) != 1 || got[0] != (Run{0, 0, 3}) {
		t.Errorf("Identity(3) = %v, want [{0 0 3}]", got)
	}
}
