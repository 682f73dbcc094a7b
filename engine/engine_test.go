package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/nlfs/nlfs/remapper"
)

// ctx is what the tests apply layouts in: no binding, nothing to wait for.
var ctx = context.Background()

var ps = remapper.PageSize()

func letters(n int) []byte {
	var b []byte
	for i := 0; i < n; i++ {
		b = append(b, bytes.Repeat([]byte{byte('A' + i)}, int(ps))...)
	}
	return b
}

func newEngine(t *testing.T, opts Options) *Engine {
	t.Helper()
	e, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func viewLetters(t *testing.T, v *View) string {
	t.Helper()
	buf := make([]byte, v.ViewSize())
	if _, err := v.rv.ReadView(buf, 0); err != nil {
		t.Fatal(err)
	}
	var s strings.Builder
	for off := 0; off < len(buf); off += int(ps) {
		s.WriteByte(max(buf[off], '0'))
	}
	return s.String()
}

// TestLayoutWriter: a layout arrives in pieces; a seek is refused with EINVAL at the write
// and at the flush (the refusal is sticky), and leaves the layout in force.
func TestLayoutWriter(t *testing.T) {
	e := newEngine(t, Options{Source: bytes.NewReader(letters(4))})
	v := e.Main()
	w := v.NewLayoutWriter(true)
	var off int64
	for _, piece := range []string{"3", "-", "0\n"} {
		if _, err := w.Write([]byte(piece), off, 1); err != nil {
			t.Fatalf("write %q: %v", piece, err)
		}
		off += int64(len(piece))
	}
	if err := w.Flush(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if got := string(v.LayoutText()); got != "3-0\n" {
		t.Errorf("layout %q", got)
	}
	w = v.NewLayoutWriter(true)
	w.Write([]byte("0 1"), 0, 1)
	if _, err := w.Write([]byte("2"), 10, 1); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("seek: %v, want EINVAL", err)
	}
	if err := w.Flush(ctx, 1); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("flush after a seek: %v, want EINVAL", err)
	}
	if got := string(v.LayoutText()); got != "3-0\n" || v.Generation() != 1 {
		t.Errorf("after a refused session: %q, generation %d", got, v.Generation())
	}
	if !strings.Contains(v.LastError(), "write at offset 10") {
		t.Errorf("last error %q", v.LastError())
	}
}

// TestLayoutWriterOwners: a session is applied by the flush of an owner that wrote through
// it, never by one that did not (a forked command exiting with an inherited descriptor);
// what no writer's flush applied is applied at release; a refusal reaches the writers only.
func TestLayoutWriterOwners(t *testing.T) {
	type step struct {
		op    string // "w" write, "f" flush, "r" release
		owner uint64
		text  string
	}
	cases := []struct {
		name    string
		steps   []step
		want    string // layout afterwards
		gens    int64
		refused []int // the steps that must fail
	}{
		{"a non-writer's flush applies nothing", []step{{"w", 1, "0 1 "}, {"f", 2, ""}, {"w", 1, "2\n"}, {"f", 1, ""}}, "0-2\n", 1, nil},
		{"the writer's flush applies once", []step{{"w", 1, "1 0\n"}, {"f", 1, ""}, {"f", 1, ""}, {"f", 2, ""}, {"r", 0, ""}}, "1-0\n", 1, nil},
		{"a second writer's flush applies what is written so far", []step{{"w", 1, "2 "}, {"w", 2, "1\n"}, {"f", 2, ""}, {"f", 1, ""}}, "2-1\n", 1, nil},
		{"what no writer flushed is applied at release", []step{{"w", 1, "3 2\n"}, {"f", 2, ""}, {"r", 0, ""}}, "3-2\n", 1, nil},
		{"a refusal reaches the writers only", []step{{"w", 1, "0 9\n"}, {"f", 2, ""}, {"f", 1, ""}, {"r", 0, ""}}, "3-0\n", 0, []int{0, 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEngine(t, Options{Source: bytes.NewReader(letters(4))})
			v := e.Main()
			if err := v.ApplyText(ctx, []byte("3-0")); err != nil {
				t.Fatal(err)
			}
			w := v.NewLayoutWriter(true)
			var off int64
			for i, s := range c.steps {
				var err error
				switch s.op {
				case "w":
					_, err = w.Write([]byte(s.text), off, s.owner)
					off += int64(len(s.text))
				case "f":
					err = w.Flush(ctx, s.owner)
				case "r":
					w.Release()
					v.waitLater()
				}
				if refused := slices.Contains(c.refused, i); refused != (err != nil) {
					t.Errorf("step %d %v: %v, refused: %v", i, s, err, refused)
				}
			}
			if got := string(v.LayoutText()); got != c.want || v.Generation() != 1+c.gens {
				t.Errorf("layout %q, generation %d; want %q, %d", got, v.Generation(), c.want, 1+c.gens)
			}
		})
	}
}

// TestReleaseOrder: the empty layout of a truncating session that wrote nothing is applied
// at its release, unless a session opened after it has put its layout in force already (the
// kernel may deliver the release after the next session's close).
func TestReleaseOrder(t *testing.T) {
	e := newEngine(t, Options{Source: bytes.NewReader(letters(4))})
	v := e.Main()
	a := v.NewLayoutWriter(true) // `: > layout`
	a.Flush(ctx, 1)
	b := v.NewLayoutWriter(true) // `echo 2 > layout`, opened after a was closed
	b.Write([]byte("2\n"), 0, 2)
	if err := b.Flush(ctx, 2); err != nil {
		t.Fatal(err)
	}
	a.Release() // late
	b.Release()
	v.waitLater()
	if got := string(v.LayoutText()); got != "2\n" || v.Generation() != 1 {
		t.Errorf("after a late release: layout %q, generation %d; want \"2\\n\", 1", got, v.Generation())
	}
	c := v.NewLayoutWriter(true) // `: > layout` again, released in time
	c.Release()
	v.waitLater()
	if v.Pinned() || v.Generation() != 2 {
		t.Errorf("after a release in time: pinned %v, generation %d; want the identity, 2", v.Pinned(), v.Generation())
	}
}

// TestLastErrorOnce: a failed write is in last_error with its operation said once.
func TestLastErrorOnce(t *testing.T) {
	e := newEngine(t, Options{Source: bytes.NewReader(letters(2))})
	v := e.Main()
	if _, err := v.WriteView([]byte("x"), 3*ps); err == nil {
		t.Fatal("a write past the view's end was accepted")
	}
	if le := v.LastError(); !strings.HasPrefix(le, "write view: ") || strings.Count(le, "write view") != 1 {
		t.Errorf("last error %q: want the operation once", le)
	}
	if _, err := e.WriteData([]byte("x"), -1); err == nil {
		t.Fatal("a write at a negative offset was accepted")
	}
	if le := v.LastError(); strings.Count(le, "write data") != 1 {
		t.Errorf("last error %q: want the operation once", le)
	}
}

// TestEvents: writes carry the store extents they changed, through data and through a
// permuted view (the store pages it showed); layouts and views are announced.
func TestEvents(t *testing.T) {
	e := newEngine(t, Options{Source: bytes.NewReader(letters(4))})
	var got []Event
	cancel := e.Subscribe(func(ev Event) {
		if ev.Kind != DataRead && ev.Kind != ViewRead {
			got = append(got, ev)
		}
	})
	defer cancel()
	if err := e.Main().ApplyText(ctx, []byte("3-0")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Main().WriteView(make([]byte, 2*ps), ps); err != nil { // view pages 1, 2 = store 2, 1
		t.Fatal(err)
	}
	e.WriteData([]byte("x"), 5)
	e.CreateView("a")
	e.RemoveView("a")
	want := []Event{
		{Kind: LayoutApplied, View: MainView},
		{Kind: ViewWritten, View: MainView, Off: ps, Len: 2 * ps, Store: []remapper.Extent{{Off: 2 * ps, Len: ps}, {Off: ps, Len: ps}}},
		{Kind: DataWritten, Off: 5, Len: 1, Store: []remapper.Extent{{Off: 5, Len: 1}}},
		{Kind: ViewCreated, View: "a"},
		{Kind: ViewRemoved, View: "a"},
	}
	if len(got) != len(want) {
		t.Fatalf("events %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Kind != want[i].Kind || got[i].View != want[i].View || got[i].Off != want[i].Off ||
			got[i].Len != want[i].Len || !slices.Equal(got[i].Store, want[i].Store) {
			t.Errorf("event %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestStatusJSON: status.json has the status file's keys, in order, numbers as numbers.
func TestStatusJSON(t *testing.T) {
	e := newEngine(t, Options{Pages: 3})
	e.CreateView("b")
	for _, v := range []*View{e.Main(), mustView(t, e, "b")} {
		var obj map[string]any
		if err := json.Unmarshal(v.StatusJSON(), &obj); err != nil {
			t.Fatalf("status.json: %v", err)
		}
		lines := strings.Split(strings.TrimSpace(string(v.StatusText())), "\n")
		if len(obj) != len(lines) {
			t.Errorf("status.json has %d keys, status %d lines", len(obj), len(lines))
		}
		for _, line := range lines {
			k, val, _ := strings.Cut(line, ": ")
			switch j := obj[k].(type) {
			case float64:
				if !isNumber(val) || json.Number(val).String() != val {
					t.Errorf("%s: %q in status is the number %v in JSON", k, val, j)
				}
			case string:
				if j != val {
					t.Errorf("%s: %q in JSON, %q in status", k, j, val)
				}
			case []any:
				if k != "views" {
					t.Errorf("%s is a list", k)
				}
			default:
				t.Errorf("status key %s missing from status.json (or of type %T)", k, j)
			}
		}
		if v == e.Main() {
			if views, _ := obj["views"].([]any); len(views) != 1 || views[0] != "b" {
				t.Errorf("views %v, want [b]", obj["views"])
			}
			if obj["data_pages"] != 3.0 {
				t.Errorf("data_pages %v, want the number 3", obj["data_pages"])
			}
		}
	}
}

func isNumber(s string) bool {
	_, err := json.Number(s).Int64()
	return err == nil
}

func mustView(t *testing.T, e *Engine, name string) *View {
	t.Helper()
	v, ok := e.View(name)
	if !ok {
		t.Fatalf("no view %q", name)
	}
	return v
}

// TestStorePersists: a named store keeps data in its file and every view's layout beside it;
// a second daemon of the same store is refused naming the holder; the next one resumes all.
func TestStorePersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store")
	var notes []string
	opts := Options{StorePath: path, Source: bytes.NewReader(letters(4)), Holder: "the test's daemon", Note: func(s string) { notes = append(notes, s) }}
	e, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "not on tmpfs") {
		t.Errorf("notes for a store in %s: %q, want one about tmpfs", filepath.Dir(path), notes)
	}
	if err := e.Main().ApplyText(ctx, []byte("3-0")); err != nil {
		t.Fatal(err)
	}
	b, err := e.CreateView("b")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.ApplyText(ctx, []byte("1 1")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.CreateView("gone"); err != nil {
		t.Fatal(err)
	}
	if err := e.RemoveView("gone"); err != nil {
		t.Fatal(err)
	}
	b.WriteView([]byte("Z"), 0)
	if file, _ := os.ReadFile(path); !bytes.Equal(file[ps:ps+1], []byte("Z")) {
		t.Error("a write is not in the store file at once")
	}

	_, err = New(Options{StorePath: path})
	if !errors.Is(err, ErrStoreInUse) || !strings.Contains(err.Error(), "the test's daemon") {
		t.Fatalf("second daemon of the store: %v", err)
	}
	e.Close()

	if _, err := New(Options{StorePath: path, Source: bytes.NewReader(nil)}); err == nil || !strings.Contains(err.Error(), "takes no --source") {
		t.Errorf("an existing store with a source: %v", err)
	}
	e2 := newEngine(t, Options{StorePath: path})
	if got := string(e2.Main().LayoutText()); got != "3-0\n" {
		t.Errorf("resumed main layout %q, want 3-0", got)
	}
	if names := e2.ViewNames(); !slices.Equal(names, []string{"b"}) {
		t.Fatalf("resumed views %v, want [b]", names)
	}
	if got := viewLetters(t, mustView(t, e2, "b")); got != "ZZ" {
		t.Errorf("resumed view b shows %q, want ZZ (store page 1, written through b)", got)
	}
	if got := viewLetters(t, e2.Main()); got != "DCZA" {
		t.Errorf("resumed main view shows %q, want DCZA", got)
	}
}
