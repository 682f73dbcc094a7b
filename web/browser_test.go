package web

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/nlfs/nlfs/engine"
	"github.com/nlfs/nlfs/internal/testenv"
	"github.com/nlfs/nlfs/layout"
)

var update = flag.Bool("update", false, "rewrite the screenshots docs/live-*.png from the browser test")

// updating says whether the browser test writes its screenshots into docs/ (-update, or
// NLFS_UPDATE_SCREENSHOTS=1).
func updating() bool { return *update || os.Getenv("NLFS_UPDATE_SCREENSHOTS") == "1" }

// waitLong bounds each wait for the page: far more than a fraction of a second, so that a
// loaded machine does not fail the test, yet a page that does not follow does.
const waitLong = 20 * time.Second

// browser is one headless Chromium with one tab.
type browser struct {
	t   *testing.T
	ctx context.Context
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := testenv.RequireChromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		// Without these, this machine's closed network makes chromium misbehave.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		acancel()
	})
	// The first run starts the browser and lives as long as ctx: no timeout on it, a timer
	// instead.
	timer := time.AfterFunc(time.Minute, cancel)
	defer timer.Stop()
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return &browser{t: t, ctx: ctx}
}

// on is b reporting to t (a subtest).
func (b *browser) on(t *testing.T) *browser { return &browser{t: t, ctx: b.ctx} }

// do runs steps, failing the test after a minute.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression that gives a string.
func (b *browser) eval(expr string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return s
}

// wait waits until the JavaScript expression is true in the page, failing the test (with what
// the page shows) after waitLong.
func (b *browser) wait(what, expr string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitLong+10*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(waitLong))); err != nil {
		b.t.Fatalf("waiting for %s (%s): %v\npage: layout %q, conn %q, error %q, activity %q, hover %q",
			what, expr, err, b.text("layout"), b.text("conn"), b.text("error"), b.text("activity"), b.text("hover"))
	}
}

// text is the text of the element with the id.
func (b *browser) text(id string) string {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.getElementById(%q) || {}).textContent || ''`, id)))
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return s
}

// center is the middle of the first element matching a CSS selector, in the viewport.
func (b *browser) center(sel string) (x, y float64) {
	b.t.Helper()
	// Scrolled to only when not in sight: a scrolled page is not what a full screenshot shows.
	b.do("scroll to "+sel, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(
		`(() => { const e = document.querySelector(%q), r = e.getBoundingClientRect(); if (r.top < 0 || r.bottom > innerHeight) e.scrollIntoView({block: 'center'}); })()`, sel)))
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	r, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](fmt.Sprintf(
		`(() => { const r = document.querySelector(%q).getBoundingClientRect(); return [r.x + r.width/2, r.y + r.height/2]; })()`, sel)))
	if err != nil || len(r) != 2 {
		b.t.Fatalf("where is %s: %v %v", sel, r, err)
	}
	return r[0], r[1]
}

// hover moves the mouse over the middle of the element, as a person would.
func (b *browser) hover(sel string) {
	b.t.Helper()
	x, y := b.center(sel)
	b.do("hover "+sel, chromedp.MouseEvent(chromedp.MouseMoved, x, y))
}

// click clicks the middle of the element.
func (b *browser) click(sel string) {
	b.t.Helper()
	x, y := b.center(sel)
	b.do("click "+sel, chromedp.MouseClickXY(x, y))
}

// setEditor replaces the editor's text as typing would (the page hears an input event).
func (b *browser) setEditor(text string) {
	b.t.Helper()
	js, _ := json.Marshal(text)
	b.do("edit the layout", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(
		`(() => { const e = document.getElementById('editor'); e.focus(); e.value = %s; e.dispatchEvent(new Event('input', {bubbles: true})); })()`, js)))
}

// screenshot takes the whole page as PNG and, when updating, keeps it as docs/NAME. The
// viewport is first made as tall as the page (a full-page capture would resize it under the
// mouse, ending a hover); settle then brings about what the picture should show.
func (b *browser) screenshot(name string, settle func()) {
	b.t.Helper()
	var h int64
	if _, err := fmt.Sscan(b.eval(`String(Math.max(document.documentElement.scrollHeight, 600))`), &h); err != nil {
		b.t.Fatalf("page height: %v", err)
	}
	b.do("fit the viewport to the page", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 1280, Height: h, DeviceScaleFactor: 1})
		return err
	}))
	defer b.do("restore the viewport", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.ClearDeviceMetricsOverride, cdp.Empty{})
		return err
	}))
	settle()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		b.t.Fatalf("screenshot %s is no PNG: %v", name, err)
	}
	if r := img.Bounds(); r.Dx() < 800 || r.Dy() < 600 {
		b.t.Fatalf("screenshot %s is %v, want the whole page", name, r)
	}
	if updating() {
		path := filepath.Join("..", "docs", name)
		if err := os.WriteFile(path, shot, 0o644); err != nil {
			b.t.Fatal(err)
		}
		b.t.Logf("wrote %s (%d bytes)", path, len(shot))
	}
}

// TestBrowser drives the live page in headless Chromium against a real mount: the page follows
// layouts written through the mount without reloading, applies its own, shows a refusal at its
// line and column, shows reads and writes as they happen, hovers, switches between views, and
// comes back after its event stream drops. It keeps screenshots of the TLPI figure and of a
// 60,000-page view (docs/live-tlpi.png, docs/live-60k.png) with -update.
func TestBrowser(t *testing.T) {
	testenv.RequireChromium(t)
	mnt, e := testMount(t, engine.Options{Source: bytes.NewReader(letters(3))})
	s := newServer(t, e, Options{})
	b := newBrowser(t)
	ps := pageSize

	b.do("open the page", chromedp.Navigate(s.URL()))
	b.wait("the stream to be live", `document.getElementById('conn').textContent === 'live'`)
	b.wait("the identity layout", `document.getElementById('layout').textContent === '# identity: follows data, now 0-2\n'`)
	// Set in the page: a reload would lose it.
	b.do("mark the page", chromedp.Evaluate[chromedp.Void](`window.nlfsMarker = 'not reloaded'`))
	notReloaded := `window.nlfsMarker === 'not reloaded'`

	t.Run("layout through the mount", func(t *testing.T) {
		b := b.on(t)
		sh(t, mnt, "echo 2 1 0 > layout")
		b.wait("the layout text", `document.getElementById('layout').textContent === '2-0\n'`)
		b.wait("the picture", `document.querySelector('#picture svg .vp[data-v="0"]')?.dataset.f === '2' && document.querySelector('#picture svg .vp[data-v="2"]')?.dataset.f === '0'`)
		b.wait("the editor to follow", `document.getElementById('editor').value === '2-0\n'`)
		b.wait("status", `document.querySelector('#status tr[data-key="generation"] .v')?.textContent === '1'`)
		b.wait("vmas", `document.getElementById('vmas').textContent.length > 0`)
		b.wait("no reload", notReloaded)
	})

	t.Run("activity of a read", func(t *testing.T) {
		b := b.on(t)
		b.screenshot("live-tlpi.png", func() {
			sh(t, mnt, "cat view > /dev/null")
			b.wait("the read in the log", `[...document.querySelectorAll('#activity li')].some(li => li.textContent.includes('read view: view pages 0-2 → store pages 0-2'))`)
			b.hover(`#picture svg .vp[data-v="0"]`)
			b.wait("the hovered page's store page", `document.querySelector('#picture svg .sp[data-f="2"]').classList.contains('hl')`)
			b.wait("the hover line", `document.getElementById('hover').textContent.startsWith('view page 0 shows store page 2')`)
		})
	})

	t.Run("layout from the editor", func(t *testing.T) {
		b := b.on(t)
		b.setEditor("0 1 2 1")
		b.click("#apply")
		b.wait("applied", `document.getElementById('applied').textContent === 'applied'`)
		if got := sh(t, mnt, "cat layout"); got != "0-2 1\n" {
			t.Fatalf("cat layout after the editor's apply: %q, want %q", got, "0-2 1\n")
		}
		b.wait("the layout text", `document.getElementById('layout').textContent === '0-2 1\n'`)
		// Hovering view page 3 highlights store page 1 and its alias, view page 1.
		b.wait("the new picture", `document.querySelectorAll('#picture svg .vp').length === 4`)
		b.hover(`#picture svg .vp[data-v="3"]`)
		b.wait("the aliases", `[...document.querySelectorAll('#picture svg .vp.hl')].map(g => g.dataset.v).join() === '1,3' && document.querySelector('#picture svg .sp[data-f="1"]').classList.contains('hl')`)
		b.wait("the hover line", `document.getElementById('hover').textContent.includes('aliased')`)
	})

	t.Run("refusal at its line and column", func(t *testing.T) {
		b := b.on(t)
		b.setEditor("0 1\n2 7 # seven is past the end\n")
		b.click("#apply")
		b.wait("the error", `!document.getElementById('error').hidden`)
		b.wait("its position", `document.getElementById('error-pos').dataset.line === '2' && document.getElementById('error-pos').dataset.column === '3'`)
		msg, pos := b.text("error-msg"), b.text("error-pos")
		if msg != "line 2, column 3: page 7 is past the end of data (3 pages)" {
			t.Errorf("error message %q", msg)
		}
		if !strings.Contains(pos, "line 2, column 3:\n2 | 2 7 # seven is past the end\n  |   ^") {
			t.Errorf("error position shown as %q", pos)
		}
		if sel := b.eval(`(() => { const e = document.getElementById('editor'); return e.value.slice(e.selectionStart, e.selectionEnd); })()`); sel != "7" {
			t.Errorf("the editor selects %q, want the 7", sel)
		}
		if got := sh(t, mnt, "cat layout"); got != "0-2 1\n" {
			t.Errorf("a refused layout changed the layout: %q", got)
		}
		b.wait("no reload", notReloaded)
	})

	t.Run("activity of a write", func(t *testing.T) {
		b := b.on(t)
		// A write to view page 3 lands in store page 1, shown at view pages 1 and 3.
		sh(t, mnt, fmt.Sprintf("printf Z | dd of=view bs=1 seek=%d conv=notrunc status=none", 3*ps))
		b.wait("the write in the log", `[...document.querySelectorAll('#activity li')].some(li => li.textContent.includes('wrote view: view pages 3 → store pages 1'))`)
		b.wait("the alias lit", `document.querySelector('#picture svg .vp[data-v="1"]').classList.contains('flash-write')`)
		sh(t, mnt, "cat data > /dev/null")
		b.wait("the data read", `[...document.querySelectorAll('#activity li')].some(li => li.textContent.includes('read data: pages 0-2'))`)
	})

	t.Run("named views", func(t *testing.T) {
		b := b.on(t)
		sh(t, mnt, "mkdir views/a")
		b.wait("view a offered", `[...document.getElementById('views').options].some(o => o.value === 'a')`)
		b.do("choose view a", chromedp.Evaluate[chromedp.Void](`(() => { const s = document.getElementById('views'); s.value = 'a'; s.dispatchEvent(new Event('change')); })()`))
		b.wait("view a's layout", `document.getElementById('layout').textContent === '# identity: follows data, now 0-2\n'`)
		b.wait("view a's status", `document.querySelector('#status tr[data-key="view"] .v')?.textContent === 'a'`)
		b.wait("the address", `new URLSearchParams(location.search).get('view') === 'a'`)
		sh(t, mnt, "echo 1 1 > views/a/layout")
		b.wait("view a's new layout", `document.getElementById('layout').textContent === '1*2\n'`)
		if got := sh(t, mnt, "cat layout"); got != "0-2 1\n" {
			t.Errorf("view a's layout changed the main view: %q", got)
		}

		// The stream drops (a network failure, a daemon busy): the page comes back by itself.
		s.dropStreams()
		waitFor(t, waitLong, "the page's stream to come back", func() bool { return len(s.openStreams()) == 1 })
		sh(t, mnt, "echo 0 0 > views/a/layout")
		b.wait("a change after the reconnect", `document.getElementById('layout').textContent === '0*2\n'`)

		b.setEditor("2")
		b.click("#apply")
		b.wait("applied to view a", `document.getElementById('layout').textContent === '2\n'`)
		if got := sh(t, mnt, "cat views/a/layout"); got != "2\n" {
			t.Errorf("cat views/a/layout after the editor's apply: %q", got)
		}
		sh(t, mnt, "rmdir views/a")
		b.wait("view a gone", `!document.getElementById('gone').hidden`)
		b.do("back to the main view", chromedp.Evaluate[chromedp.Void](`(() => { const s = document.getElementById('views'); s.value = ''; s.dispatchEvent(new Event('change')); })()`))
		b.wait("the main view again", `document.getElementById('layout').textContent === '0-2 1\n'`)
		b.wait("no reload", notReloaded)
	})

	t.Run("a 60000-page view", func(t *testing.T) {
		b := b.on(t)
		const n = 60000
		runs, err := layout.Generate("interleave", []int64{n, 4})
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(t.TempDir(), "interleave.layout")
		if err := os.WriteFile(file, layout.AppendCanonical(nil, runs), 0o644); err != nil {
			t.Fatal(err)
		}
		sh(t, mnt, fmt.Sprintf("truncate -s %d data && cat %s > layout", n*ps, file))
		b.wait("the plot", `document.querySelector('#picture img') !== null && document.querySelector('#picture svg.overlay .hit') !== null`)
		b.wait("the title", `document.getElementById('picture-title').textContent.startsWith('60000 view pages, 60000 runs')`)
		b.screenshot("live-60k.png", func() {
			// Hovering the middle of the plot names a view page there and the store page it
			// shows: in a stride-4 interleave of n pages, view page v shows (v mod n/4)*4 + v/(n/4).
			b.hover(`#picture svg.overlay .hit`)
			b.wait("the hover line", `/^view page \d+ shows store page \d+/.test(document.getElementById('hover').textContent)`)
			var v, f int64
			if _, err := fmt.Sscanf(b.text("hover"), "view page %d shows store page %d", &v, &f); err != nil {
				t.Fatalf("hover line %q: %v", b.text("hover"), err)
			}
			if want := (v%(n/4))*4 + v/(n/4); v < n*45/100 || v > n*55/100 || f != want {
				t.Errorf("hovering the plot's middle: view page %d store page %d, want a page near %d showing %d", v, f, n/2, want)
			}
			b.wait("the crosshair", `document.querySelectorAll('#picture svg.overlay .cross').length === 2`)
			// A read of 20 MiB from 100 MiB in (view pages 25600-30719) lights its stretch of the
			// view and the store pages behind it, across the store.
			sh(t, mnt, "dd if=view of=/dev/null bs=1M skip=100 count=20 iflag=direct status=none") // direct: exactly these 20 MiB reach the daemon, whatever the page cache holds
			b.wait("activity bands", `document.querySelectorAll('#picture svg.overlay .band').length > 0`)
			b.wait("the whole read told", `document.getElementById('totals').textContent.includes('20.0 MiB read')`)
			b.wait("the read in the log", `[...document.querySelectorAll('#activity li')].some(li => li.textContent.includes('read view: view pages 25600-'))`)
		})
		b.wait("no reload", notReloaded)
	})

	// Nothing the page did was blocked by its own policy (the inline script and style by hash,
	// map.svg from a blob: URL, its density image from a data: URL).
	if v := b.eval(`document.body.dataset.cspViolations || ''`); v != "" {
		t.Errorf("the page's Content-Security-Policy blocked: %s", v)
	}
}
