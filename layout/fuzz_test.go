package layout

import (
	"slices"
	"testing"
)

// FuzzParse checks, for arbitrary bytes: no panic; the same outcome from Parse and from a Parser fed
// in pieces (with a Finish in between); the naive reference agrees; a success stays within its
// limits and the text reading its layout gives (canonical, or the identity's comment) parses back to
// the same layout.
func FuzzParse(f *testing.F) {
	for _, tc := range parseTests {
		f.Add([]byte(tc.text), uint8(tc.data))
	}
	for _, tc := range parseErrorTests {
		f.Add([]byte(tc.text), uint8(tc.data))
	}
	f.Fuzz(func(t *testing.T, src []byte, data uint8) {
		lim := Limits{DataPages: int64(data % 64), MaxViewPages: 1 << 12}
		l, err := Parse(src, lim)
		want := outcome(l, err)
		a, b := len(src)/3, len(src)*2/3
		p := NewParser(lim)
		p.Write(src[:a])
		p.Finish()
		p.Write(src[a:b])
		p.Write(src[b:])
		if got := outcome(p.Finish()); got != want {
			t.Fatalf("chunked at %d and %d:\n got %s\nwant %s", a, b, got, want)
		}
		compareWithReference(t, src, lim)
		if err != nil {
			return
		}
		checkLayout(t, l, lim)
		if l.Identity {
			again, err := Parse(IdentityText(l.Pages), lim)
			if err != nil || !again.Identity {
				t.Fatalf("the identity's text %q parses to %+v, %v", IdentityText(l.Pages), again, err)
			}
			return
		}
		text := Canonical(l.Runs)
		again, err := Parse([]byte(text), lim)
		if err != nil {
			t.Fatalf("canonical text %q does not parse: %v", text, err)
		}
		if !slices.Equal(again.Runs, l.Runs) {
			t.Fatalf("canonical text %q parses to %v, want %v", text, again.Runs, l.Runs)
		}
	})
}
