package shellquote

import (
	"os/exec"
	"strings"
	"testing"
)

// TestQuote: each word, given to bash, is the string again, on one line.
func TestQuote(t *testing.T) {
	for _, s := range []string{"/dev/shm/x", "", "a b", "it's", "new\nline", "tab\there", "back\\slash'quote\n", "\x01\x7f", "é ü", "$HOME", "*"} {
		q := Quote(s)
		if strings.ContainsAny(q, "\n\r") {
			t.Errorf("Quote(%q) = %q: not one line", s, q)
		}
		out, err := exec.Command("bash", "-c", `printf %s `+q).Output()
		if err != nil {
			t.Fatalf("bash: %v", err)
		}
		if string(out) != s {
			t.Errorf("Quote(%q) = %s, which bash reads as %q", s, q, out)
		}
	}
}
