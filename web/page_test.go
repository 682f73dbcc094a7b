package web

import (
	"bytes"
	"context"
	"encoding/xml"
	"html"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nlfs/nlfs/engine"
)

// TestPageHoldsState: the page comes with the view's state in it, so that its first paint is
// complete before the event stream says anything: map.svg itself (as markup the page can hold:
// no XML declaration, no style attribute its policy would block), status as the status file
// says it, the layout in the text and in the editor, vmas, the view's size.
func TestPageHoldsState(t *testing.T) {
	e := newEngine(t, engine.Options{Source: bytes.NewReader(letters(3))})
	if _, err := e.CreateView("rev"); err != nil {
		t.Fatal(err)
	}
	v, _ := e.View("rev")
	if err := v.ApplyText(context.Background(), []byte("2 1 0")); err != nil {
		t.Fatal(err)
	}
	s := newServer(t, e, Options{})
	for _, c := range []struct {
		query string
		v     *engine.View
		title string
	}{
		{"", e.Main(), "3 view pages, 1 run, 3 data pages"},
		{"?view=rev", v, "3 view pages, 3 runs, 3 data pages"},
	} {
		t.Run("view"+c.query, func(t *testing.T) {
			page := mustGet(t, s, "/"+c.query)
			svg := regexp.MustCompile(`(?s)<div id="picture" class="figure">(<svg .*</svg>\n)</div>`).FindStringSubmatch(page)
			if svg == nil {
				t.Fatalf("the page holds no picture:\n%.2000s", page)
			}
			want := svgProlog.ReplaceAllString(string(c.v.MapSVG(true)), "")
			if svg[1] != want {
				t.Errorf("the page's picture is not map.svg:\n%.600s\nwant:\n%.600s", svg[1], want)
			}
			if err := xml.Unmarshal([]byte(svg[1]), new(struct{})); err != nil {
				t.Errorf("the page's picture is not well-formed: %v", err)
			}
			// What the page shows, unescaped, against what the files say.
			shown := func(re string) string {
				t.Helper()
				m := regexp.MustCompile(`(?s)` + re).FindStringSubmatch(page)
				if m == nil {
					t.Fatalf("the page has no %s", re)
				}
				return html.UnescapeString(m[1])
			}
			for _, x := range []struct{ re, want string }{
				{`<pre id="layout" class="text">(.*?)</pre>`, string(c.v.LayoutText())},
				{`aria-label="layout editor">(.*?)</textarea>`, string(c.v.LayoutText())},
				{`<pre id="vmas" class="text">(.*?)</pre>`, string(c.v.VMAsText())},
				{`<span id="picture-title" class="sub">(.*?)</span>`, c.title},
				{`data-status="(.*?)"`, strings.TrimSpace(string(c.v.StatusJSON()))},
			} {
				if got := shown(x.re); got != x.want {
					t.Errorf("the page's %s: %q, want %q", x.re, got, x.want)
				}
			}
			rows := regexp.MustCompile(`<tr data-key="([^"]*)"><td class="k">[^<]*</td><td class="v">([^<]*)</td></tr>`).FindAllStringSubmatch(page, -1)
			var table []string
			for _, r := range rows {
				table = append(table, html.UnescapeString(r[1])+": "+html.UnescapeString(r[2]))
			}
			if got, want := strings.Join(table, "\n")+"\n", string(c.v.StatusText()); got != want {
				t.Errorf("the page's status:\n%s\nwant (the status file):\n%s", got, want)
			}
		})
	}
}

// TestInlineSVG: what the page holds of map.svg is map.svg less its declaration and its style
// attributes (a density image's), and nothing else.
func TestInlineSVG(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg a=\"1\">x</svg>\n", "<svg a=\"1\">x</svg>\n"},
		{`<svg><image x="1" style="image-rendering:pixelated" href="data:,"/></svg>`, `<svg><image x="1" href="data:,"/></svg>`},
		{`<svg><text>style="kept"</text></svg>`, `<svg><text>style="kept"</text></svg>`},
	} {
		if got := string(inlineSVG([]byte(c.in))); got != c.want {
			t.Errorf("inlineSVG(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestPictureReadsNoActivity: drawing the picture reads the first byte of each store page it
// shows (its letters), but that is the daemon's own reading, not a user's: the page, map.svg
// and the step player bring no read event, and the activity the page is told of next is the
// user's read alone.
func TestPictureReadsNoActivity(t *testing.T) {
	e := newEngine(t, engine.Options{Source: bytes.NewReader(letters(4))})
	if err := e.Main().ApplyText(context.Background(), []byte("3 2 1 0")); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []engine.Event
	watching := true
	cancel := e.Subscribe(func(ev engine.Event) {
		mu.Lock()
		defer mu.Unlock()
		if watching {
			got = append(got, ev)
		}
	})
	defer cancel()
	s := newServer(t, e, Options{})
	c := openEvents(t, s, "")
	c.next(5 * time.Second)
	for _, path := range []string{"/", "/map.svg"} {
		if body := mustGet(t, s, path); !strings.Contains(body, ">D</text>") {
			t.Fatalf("GET %s shows no letter D: the picture did not read the store", path)
		}
	}
	mustGet(t, s, "/steps")
	mu.Lock()
	watching = false
	if len(got) != 0 {
		t.Errorf("drawing the picture sent events: %v", got)
	}
	mu.Unlock()
	// A user's read of view page 0 (store page 3): the next activity is that read alone.
	l, err := e.Main().ViewSlices(0, testPageSize)
	if err != nil {
		t.Fatal(err)
	}
	l.Release()
	m := c.until(5*time.Second, "the read", func(m message) bool { return len(m.Activity) > 0 })
	want := fileReport{File: "view", Read: &opReport{Bytes: int64(testPageSize), Pages: [][2]int64{{0, 1}}, Store: [][2]int64{{3, 4}}}}
	if len(m.Activity) != 1 || !sameReport(m.Activity[0], want) {
		t.Errorf("activity %s, want the user's read alone: %s", reportsText(m.Activity), reportsText([]fileReport{want}))
	}
}
