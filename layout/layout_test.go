package layout

import "testing"

// TestStorePagesNamed: how many store pages a layout needs is one past the highest page its
// text names, a page remapped away included (the store must still have it), and the data's
// pages for the identity.
func TestStorePagesNamed(t *testing.T) {
	for _, c := range []struct {
		text string
		want int64
	}{
		{"3-0", 4},
		{"0 0 0", 1},
		{"9 1\nremap 0 1 2", 10},
		{"# nothing", 12},
		{"0-1*3", 2},
	} {
		l, err := Parse([]byte(c.text), Limits{DataPages: 12})
		if err != nil {
			t.Fatalf("%q: %v", c.text, err)
		}
		if got := l.StorePagesNamed(); got != c.want {
			t.Errorf("%q: StorePagesNamed %d, want %d", c.text, got, c.want)
		}
	}
}
