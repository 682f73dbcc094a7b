package engine

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// TestLayoutTextRoundTrips: what reading the layout gives, written back, leaves the view as it
// was: the identity reads as a comment naming the pages now in view and stays the identity; a
// pinned layout of the same pages reads as its range and stays pinned.
func TestLayoutTextRoundTrips(t *testing.T) {
	e := newEngine(t, Options{Source: bytes.NewReader(letters(4))})
	v := e.Main()
	text := v.LayoutText()
	if string(text) != "# identity: follows data, now 0-3\n" {
		t.Fatalf("identity reads %q", text)
	}
	if err := v.ApplyText(ctx, text); err != nil {
		t.Fatal(err)
	}
	if v.Pinned() || string(v.LayoutText()) != string(text) {
		t.Errorf("the identity's text written back: pinned %v, reads %q", v.Pinned(), v.LayoutText())
	}
	if err := v.ApplyText(ctx, []byte("0-3")); err != nil {
		t.Fatal(err)
	}
	if !v.Pinned() || string(v.LayoutText()) != "0-3\n" {
		t.Errorf("pinned 0-3: pinned %v, reads %q", v.Pinned(), v.LayoutText())
	}
	if err := v.ApplyText(ctx, v.LayoutText()); err != nil || !v.Pinned() {
		t.Errorf("pinned 0-3 written back: pinned %v, %v", v.Pinned(), err)
	}
	if err := v.ApplyText(ctx, []byte("0-1*3 3*2")); err != nil {
		t.Fatal(err)
	}
	if got := string(v.LayoutText()); got != "0-1*3 3*2\n" {
		t.Errorf("repeats read back as %q", got)
	}
}

// TestStatusCostBefore4: status gives what the view cost before Linux 4.0 beside what it costs
// now, in the text and in the JSON alike.
func TestStatusCostBefore4(t *testing.T) {
	e := newEngine(t, Options{Source: bytes.NewReader(letters(4))})
	v := e.Main()
	for _, c := range []struct {
		layout string
		want   []string
	}{
		{"", []string{"vmas_before_linux_4_0: 1\n", "pte_offsets_before_linux_4_0: 0\n", "vmas_since_linux_4_0: 1\n"}},
		{"3-0", []string{"vmas_before_linux_4_0: 1\n", "pte_offsets_before_linux_4_0: 4\n", "vmas_since_linux_4_0: 4\n"}},
		// Only view pages 0 and 1 are away from their linear place (store page N at view page
		// N): the page table held the offsets of those two.
		{"2-3 2-3", []string{"vmas_before_linux_4_0: 1\n", "pte_offsets_before_linux_4_0: 2\n", "vmas_since_linux_4_0: 2\n"}},
	} {
		if err := v.ApplyText(ctx, []byte(c.layout)); err != nil {
			t.Fatal(err)
		}
		st := string(v.StatusText())
		for _, w := range c.want {
			if !strings.Contains(st, w) {
				t.Errorf("layout %q: status lacks %q:\n%s", c.layout, w, st)
			}
		}
		var j map[string]any
		if err := json.Unmarshal(v.StatusJSON(), &j); err != nil {
			t.Fatal(err)
		}
		for _, w := range c.want {
			key, val, _ := strings.Cut(strings.TrimSpace(w), ": ")
			if got, ok := j[key].(float64); !ok || strconv.FormatFloat(got, 'f', -1, 64) != val {
				t.Errorf("layout %q: status.json %s = %v, want %s", c.layout, key, j[key], val)
			}
		}
	}
}
