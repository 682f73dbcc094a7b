package web

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/nlfs/nlfs/engine"
	"github.com/nlfs/nlfs/internal/headless"
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
	ctx, stop, err := headless.Start(path, t.TempDir(), chromedp.WindowSize(1280, 1000))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
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
		b.t.Fatalf("waiting for %s (%s): %v\npage: layout %.200q, conn %q, error %q, activity %q, hover %q, steps %q",
			what, expr, err, b.text("layout"), b.text("conn"), b.text("error"), b.text("activity"), b.text("hover"), b.text("step-text"))
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

// hoverAt moves the mouse over the element at the fractions fx across and fy down it.
func (b *browser) hoverAt(sel string, fx, fy float64) {
	b.t.Helper()
	b.center(sel) // scrolls it into sight
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	r, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](fmt.Sprintf(
		`(() => { const r = document.querySelector(%q).getBoundingClientRect(); return [r.x + r.width*%g, r.y + r.height*%g]; })()`, sel, fx, fy)))
	if err != nil || len(r) != 2 {
		b.t.Fatalf("where is %s: %v %v", sel, r, err)
	}
	b.do("hover "+sel, chromedp.MouseEvent(chromedp.MouseMoved, r[0], r[1]))
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
	var varies []image.Rectangle
	if err := json.Unmarshal([]byte(b.eval(shotVariesRects)), &varies); err != nil {
		b.t.Fatalf("the rectangles of what a run changes: %v", err)
	}
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
	path := filepath.Join("..", "docs", name)
	if updating() {
		if err := os.WriteFile(path, shot, 0o644); err != nil {
			b.t.Fatal(err)
		}
		b.t.Logf("wrote %s (%d bytes)", path, len(shot))
		return
	}
	if msg := staleScreenshot(path, img, varies); msg != "" {
		b.t.Errorf("%s no longer shows what the page draws: %s (regenerate: NLFS_UPDATE_SCREENSHOTS=1 go test ./web -run '^TestBrowser$' -count=1)", path, msg)
	}
}

// A screenshot is compared with the one in docs/ block by block, leaving out the blocks of what
// changes from run to run (shotVaries); a change of the page or of its picture (a section, a line more, a colour
// of the 60,000-page plot's bands) changes the size or more blocks. The green of the TLPI
// screenshot's read was seen to change 1.1%: a change of a colour in a few pages only may go
// unseen.
const (
	shotBlock     = 8    // pixels on a side of a block
	shotBlockDiff = 16   // the mean difference of a block's pixels (in levels of 255, over red, green, blue) allowed
	shotMaxBlocks = 0.01 // the share of blocks that may differ by more
	shotMaxHeight = 4    // pixels by which the heights may differ
)

// shotVaries selects the elements of the page that a run changes: the addresses and inodes of
// the VMAs, the port, the activity log (its times, and how the daemon's reports of one read were
// batched); so do the lines of the picture's VMA table, which show addresses (shotVariesRects).
// Once these were counted in (some 0.6% of the blocks) and a 1% allowance let them pass: a run
// whose inode numbers had a digit more made 1.1% differ. What still varies is where the bands of
// one read's reports meet (at most 0.4% of the 60,000-page screenshot's blocks, in 20 runs).
const shotVaries = `#vmas, #status tr[data-key="web"] .v, #activity`

// shotVariesRects is a JavaScript expression: the rectangles, in page pixels, as JSON objects
// image.Rectangle decodes, of the elements shotVaries selects and of the picture's texts that
// show an address range.
var shotVariesRects = `JSON.stringify([
	...document.querySelectorAll(` + "'" + shotVaries + "'" + `),
	...[...document.querySelectorAll('#picture svg text')].filter(e => /[0-9a-f]{8,}-[0-9a-f]{8,}/.test(e.textContent)),
].map(e => {
	const r = e.getBoundingClientRect(), x = window.scrollX, y = window.scrollY;
	return {Min: {X: Math.floor(r.left + x), Y: Math.floor(r.top + y)}, Max: {X: Math.ceil(r.right + x), Y: Math.ceil(r.bottom + y)}};
}))`

// staleScreenshot says how the screenshot in docs at path differs from img beyond what changes
// from run to run (the rectangles varies), or "" if it does not.
func staleScreenshot(path string, img image.Image, varies []image.Rectangle) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	old, err := png.Decode(f)
	if err != nil {
		return err.Error()
	}
	a, b := old.Bounds(), img.Bounds()
	if a.Dx() != b.Dx() || abs(a.Dy()-b.Dy()) > shotMaxHeight {
		return fmt.Sprintf("it is %dx%d, the page now %dx%d", a.Dx(), a.Dy(), b.Dx(), b.Dy())
	}
	// How far apart two pixels are: the mean of their red, green and blue differences.
	apart := func(x0, y0, x1, y1 int) int {
		r0, g0, b0, _ := old.At(x0, y0).RGBA()
		r1, g1, b1, _ := img.At(x1, y1).RGBA()
		return (abs(int(r0>>8)-int(r1>>8)) + abs(int(g0>>8)-int(g1>>8)) + abs(int(b0>>8)-int(b1>>8))) / 3
	}
	blocks, differ := 0, 0
	for y := 0; y+shotBlock <= min(a.Dy(), b.Dy()); y += shotBlock {
	block:
		for x := 0; x+shotBlock <= a.Dx(); x += shotBlock {
			for _, r := range varies {
				if r.Overlaps(image.Rect(x, y, x+shotBlock, y+shotBlock)) {
					continue block
				}
			}
			d := 0
			for j := range shotBlock {
				for i := range shotBlock {
					d += apart(a.Min.X+x+i, a.Min.Y+y+j, b.Min.X+x+i, b.Min.Y+y+j)
				}
			}
			blocks++
			if d/(shotBlock*shotBlock) > shotBlockDiff {
				differ++
			}
		}
	}
	if share := float64(differ) / float64(blocks); share > shotMaxBlocks {
		return fmt.Sprintf("%.1f%% of its %d blocks of %d pixels differ, at most %.0f%% may (the addresses, port and times a run changes are left out)", 100*share, blocks, shotBlock, 100*shotMaxBlocks)
	}
	return ""
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// js quotes s as a JavaScript string.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// key presses a key in the page, with nothing focused (as a person stepping through a talk).
func (b *browser) key(k string) {
	b.t.Helper()
	b.do("press a key", chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur()`), chromedp.KeyEvent(k))
}

// freeze stops the page's animations where they start (the pages lit by activity fade in a second
// and a half), so that a screenshot shows them whatever the time it takes.
func (b *browser) freeze() {
	b.t.Helper()
	b.do("freeze the animations", chromedp.Evaluate[chromedp.Void](`document.getAnimations().forEach(a => { a.pause(); a.currentTime = 0; })`))
}

// svgTexts is a JavaScript expression: the texts of the picture's <text> elements, joined by |.
const svgTexts = `[...document.querySelectorAll('#picture svg text')].map(t => t.textContent).join('|')`

// viewLetters is a JavaScript expression: the letters the picture shows in its view pages, in
// order (each view page's cell is titled "view page V shows store page F").
const viewLetters = `[...document.querySelectorAll('#picture svg g > title')].filter(t => t.textContent.startsWith('view page ')).map(t => t.parentNode.querySelector('text')?.textContent).join('')`

// midWordBreak is a JavaScript expression: "" when the text of the status value of key wraps
// only between words, else where it breaks inside one.
func midWordBreak(key string) string {
	return fmt.Sprintf(`(() => {
		const t = document.querySelector('#status tr[data-key=%q] .v').firstChild, r = document.createRange();
		let top = null, lines = 1;
		for (let i = 0; i < t.length; i++) {
			r.setStart(t, i); r.setEnd(t, i + 1);
			const y = r.getBoundingClientRect().top;
			if (top !== null && y > top + 2) {
				lines++;
				if (t.data[i - 1] !== ' ' && t.data[i] !== ' ') return 'breaks inside a word at ' + JSON.stringify(t.data.slice(0, i)) + ' | ' + JSON.stringify(t.data.slice(i));
			}
			top = y;
		}
		return lines > 1 ? '' : 'one line (the test wants it wrapped, to see where)';
	})()`, key)
}

// TestBrowser drives the live page in headless Chromium against a real mount. The first paint
// is complete before any event arrives (the event stream is held off): map.svg itself, with its
// VMA boxes, labels, letters and legend, and status, the layout, vmas. Then the page follows
// layouts written through the mount without reloading, plays a layout's calls step by step
// (forward and back, with the arrow keys), applies its own layout, shows a refusal at its line
// and column, lights the pages reads and writes reach, hovers a page and its aliases, switches
// between views, and comes back after its event stream drops. With -update (or
// NLFS_UPDATE_SCREENSHOTS=1) it writes the screenshots docs/live-tlpi.png and docs/live-60k.png:
//
//	NLFS_UPDATE_SCREENSHOTS=1 go test ./web -run '^TestBrowser$' -count=1
//
// Without NLFS_UPDATE_SCREENSHOTS it fails when docs/live-tlpi.png or docs/live-60k.png no
// longer shows what the page draws (staleScreenshot).
func TestBrowser(t *testing.T) {
	testenv.RequireChromium(t)
	mnt, e := testMount(t, engine.Options{Source: bytes.NewReader(letters(3))})
	s := newServer(t, e, Options{})
	b := newBrowser(t)
	ps := testPageSize

	sh(t, mnt, "echo 2 1 0 > layout")
	t.Run("first paint", func(t *testing.T) {
		b := b.on(t)
		// Every event stream slot taken: the page gets no event until they are given back.
		for range cap(s.streamSlots) {
			s.streamSlots <- struct{}{}
		}
		b.do("open the page", chromedp.Navigate(s.URL()))
		if got := b.eval(`document.body.dataset.changes || 'none'`); got != "none" {
			t.Fatalf("the page handled %s events with the stream held off", got)
		}
		texts := b.eval(svgTexts)
		for _, want := range []string{"VMA 1", "VMA 2", "VMA 3", "view page", "store page", "one VMA", "from the store page to the view page that shows it"} {
			if !strings.Contains(texts, want) {
				t.Errorf("the first paint's picture has no %q: %s", want, texts)
			}
		}
		if got := b.eval(viewLetters); got != "CBA" {
			t.Errorf("the first paint's view pages show %q, want CBA", got)
		}
		for id, want := range map[string]string{
			"layout": "2-0\n", "picture-title": "3 view pages, 3 runs, 3 data pages", "generation": "generation 1",
		} {
			if got := b.text(id); got != want {
				t.Errorf("first paint: #%s is %q, want %q", id, got, want)
			}
		}
		if got := b.eval(`document.getElementById('editor').value`); got != "2-0\n" {
			t.Errorf("first paint: the editor holds %q", got)
		}
		if got := b.text("vmas"); strings.Count(got, "rw-s") != 3 {
			t.Errorf("first paint: vmas %q, want 3 lines", got)
		}
		if got := b.eval(`document.querySelector('#status tr[data-key="runs"] .v').textContent`); got != "3" {
			t.Errorf("first paint: status runs %q", got)
		}
		if got := b.eval(midWordBreak("layout")); got != "" {
			t.Errorf("status layout: %s", got)
		}
		if got := b.eval(`String(document.querySelectorAll('#picture .overlay .hit.vp').length)`); got != "3" {
			t.Errorf("the page found %s view pages in the picture, want 3", got)
		}
		for range cap(s.streamSlots) {
			<-s.streamSlots
		}
		b.wait("the stream to be live", `document.getElementById('conn').textContent === 'live'`)
	})
	// Set in the page: a reload would lose it.
	b.do("mark the page", chromedp.Evaluate[chromedp.Void](`window.nlfsMarker = 'not reloaded'`))
	notReloaded := `window.nlfsMarker === 'not reloaded'`

	t.Run("layout through the mount", func(t *testing.T) {
		b := b.on(t)
		sh(t, mnt, "echo 0 1 2 > layout")
		b.wait("the layout text", `document.getElementById('layout').textContent === '0-2\n'`)
		b.wait("the picture", `document.querySelector('#picture .hit.vp[data-v="0"]')?.dataset.f === '0' && document.querySelector('#picture .hit.vp[data-v="2"]')?.dataset.f === '2'`)
		b.wait("one VMA", `!`+svgTexts+`.includes('VMA 2')`)
		b.wait("the editor to follow", `document.getElementById('editor').value === '0-2\n'`)
		b.wait("status", `document.querySelector('#status tr[data-key="generation"] .v')?.textContent === '2'`)
		sh(t, mnt, "echo 2 1 0 > layout")
		b.wait("the layout text", `document.getElementById('layout').textContent === '2-0\n'`)
		b.wait("the picture", `document.querySelector('#picture .hit.vp[data-v="0"]')?.dataset.f === '2'`)
		b.wait("no reload", notReloaded)
	})

	t.Run("the calls of the layout in force", func(t *testing.T) {
		b := b.on(t)
		b.click("#steps-force")
		b.wait("the player", `document.getElementById('steps').dataset.step === '0' && !document.getElementById('player').hidden`)
		b.wait("the start", `document.getElementById('step-text').textContent.includes('start: the calls start from 1 VMA')`)
		// No call yet: the one mapping is linear.
		b.wait("the start before 4.0", `document.getElementById('step-text').textContent.endsWith('before 4.0: 1 VMA, linear.')`)
		veil := `Number(document.querySelector('#steps .veil').getAttribute('y'))`
		start := b.eval(`String(` + veil + `)`)
		b.key(kb.ArrowRight)
		b.wait("the first call", `document.getElementById('steps').dataset.step === '1' && document.getElementById('step-text').textContent.includes('remap 0 1 2: view page 0 shows store page 2: 1 VMA -> 2 (split at view page 1)') && document.getElementById('step-text').textContent.endsWith('before 4.0: 1 VMA, made nonlinear; the call wrote 1 file PTE.')`)
		b.wait("the veil lower", veil+` > `+start)
		b.key(kb.ArrowRight)
		b.wait("the second call", `document.getElementById('step-text').textContent.includes('remap 2 1 0: view page 2 shows store page 0: 2 VMAs -> 3 (split at view page 2)') && document.getElementById('step-text').textContent.includes('Since Linux 4.0: 3 VMAs, one per run; before 4.0: 1 VMA')`)
		b.wait("the last step", `document.getElementById('step-next').disabled && document.getElementById('step-at').textContent === 'call 2 of 2'`)
		b.key(kb.ArrowRight)
		b.wait("still the last step", `document.getElementById('steps').dataset.step === '2'`)
		b.key(kb.ArrowLeft)
		b.wait("back to the first call", `document.getElementById('steps').dataset.step === '1' && document.getElementById('step-at').textContent === 'call 1 of 2'`)
		b.click("#step-back")
		b.wait("back to the start", `document.getElementById('steps').dataset.step === '0' && document.getElementById('step-back').disabled && `+veil+` === `+start)
	})

	t.Run("activity of a read", func(t *testing.T) {
		b := b.on(t)
		b.screenshot("live-tlpi.png", func() {
			b.key(kb.ArrowRight)
			b.wait("the first call", `document.getElementById('steps').dataset.step === '1'`)
			sh(t, mnt, "cat view > /dev/null")
			// The store pages in the order of the view pages that show them.
			b.wait("the read in the log", `[...document.querySelectorAll('#activity li')].some(li => li.textContent.includes('read view: view pages 0-2 → store pages 2-0 (12.0 KiB)'))`)
			b.wait("the pages lit", `document.querySelector('#picture .hit.vp[data-v="1"]').dataset.lit === 'read' && document.querySelector('#picture .hit.sp[data-f="0"]').dataset.lit === 'read'`)
			b.freeze()
			b.hover(`#picture .hit.vp[data-v="0"]`)
			b.wait("the hovered page's store page", `document.querySelector('#picture .hit.sp[data-f="2"]').classList.contains('hl') && document.querySelectorAll('#picture .overlay .mark:not(.old)').length === 2 && document.querySelectorAll('#picture g[marker-end] > .hl').length === 1`)
			b.wait("the page in the before-4.0 row", `document.querySelectorAll('#picture .overlay .mark.old').length === 1`)
			b.wait("the hover line", `document.getElementById('hover').textContent === 'view page 0 shows store page 2, shown at no other view page'`)
		})
	})

	t.Run("the calls of the editor's text", func(t *testing.T) {
		b := b.on(t)
		b.setEditor("0-2\nremap 0 1 1\n")
		b.click("#steps-editor")
		b.wait("the player", `document.getElementById('steps').dataset.step === '0' && document.getElementById('step-at').textContent.startsWith('start (1 call to go)')`)
		b.key(kb.ArrowRight)
		b.wait("the call", `document.getElementById('step-text').textContent.startsWith("the editor's text (not applied), remap 0 1 1: view page 0 shows store page 1: 1 VMA -> 2 (split at view page 1)")`)
		if got := sh(t, mnt, "cat layout"); got != "2-0\n" {
			t.Errorf("playing the editor's text changed the layout: %q", got)
		}
		// Edited after it was played, the text's calls are marked stale, not left as if current.
		b.setEditor("0-2\nremap 0 1 2\n")
		b.wait("the calls marked stale", `!document.getElementById('steps-stale').hidden && document.getElementById('steps').classList.contains('stale') && document.getElementById('steps-stale').textContent.startsWith("The editor's text changed")`)
		b.click("#steps-editor")
		b.wait("played again, not stale", `document.getElementById('steps-stale').hidden && !document.getElementById('steps').classList.contains('stale') && document.getElementById('step-at').textContent.startsWith('start (1 call to go)')`)
		b.setEditor("0 1\n2 7\n")
		b.click("#steps-editor")
		b.wait("the refusal", `document.getElementById('step-text').textContent === "the editor's text: line 2, column 3: page 7 is past the end of data (3 pages)" && document.getElementById('steps').hidden`)
		b.click("#revert")
	})

	t.Run("layout from the editor", func(t *testing.T) {
		b := b.on(t)
		b.click("#steps-force")
		b.wait("the player", `document.getElementById('steps').dataset.step === '0' && document.getElementById('steps-stale').hidden && document.querySelector('#steps img')?.complete === true && document.getElementById('step-text').textContent.startsWith('the layout in force, start')`)
		b.setEditor("0 1 2 1")
		b.click("#apply")
		b.wait("applied", `document.getElementById('applied').textContent === 'applied'`)
		// The calls of the layout that was in force are marked stale once another is.
		b.wait("the calls marked stale", `!document.getElementById('steps-stale').hidden && document.getElementById('steps-stale').textContent.startsWith('Another layout is in force')`)
		b.click("#steps-close")
		if got := sh(t, mnt, "cat layout"); got != "0-2 1\n" {
			t.Fatalf("cat layout after the editor's apply: %q, want %q", got, "0-2 1\n")
		}
		b.wait("the layout text", `document.getElementById('layout').textContent === '0-2 1\n'`)
		// Hovering view page 3 lights store page 1 and its alias, view page 1, and both arrows.
		b.wait("the new picture", `document.querySelectorAll('#picture .hit.vp').length === 4`)
		b.hover(`#picture .hit.vp[data-v="3"]`)
		b.wait("the aliases", `[...document.querySelectorAll('#picture .hit.vp.hl')].map(g => g.dataset.v).join() === '1,3' && document.querySelector('#picture .hit.sp[data-f="1"]').classList.contains('hl') && document.querySelectorAll('#picture g[marker-end] > .hl').length === 2`)
		b.wait("the hover line", `document.getElementById('hover').textContent === 'view page 3 shows store page 1, shown at view pages 1 and 3 (aliased: one page, not copies)'`)
		b.hover(`#picture .hit.sp[data-f="1"]`)
		b.wait("the store page's hover line", `document.getElementById('hover').textContent === 'store page 1 is shown at view pages 1 and 3 (aliased: one page, not copies)'`)
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
		// A reader once saw the VMAs panel blank right after a refusal: it keeps the lines of
		// the layout in force, as many as status counts, through the refusal and the refresh a
		// change brings after it.
		b.wait("status tells the refusal", `document.querySelector('#status tr[data-key="last_error"] .v').textContent.includes('page 7 is past the end of data')`)
		vmasAsStatus := `document.getElementById('vmas').textContent.split('\n').filter(l => l.includes(' rw-s ')).length === Number(document.querySelector('#status tr[data-key="vmas"] .v').textContent) && Number(document.querySelector('#status tr[data-key="vmas"] .v').textContent) === 2`
		b.wait("the VMAs after the refusal", vmasAsStatus)
		sh(t, mnt, "echo 0 1 2 1 > layout")
		b.wait("the generation after", `document.getElementById('generation').textContent === 'generation 5'`)
		b.wait("the VMAs after the refresh", vmasAsStatus)
		b.wait("no reload", notReloaded)
	})

	t.Run("activity of a write", func(t *testing.T) {
		b := b.on(t)
		// A write to view page 3 lands in store page 1, shown at view pages 1 and 3: both light
		// up, and both show its new first byte.
		sh(t, mnt, fmt.Sprintf("printf Z | dd of=view bs=1 seek=%d conv=notrunc status=none", 3*ps))
		b.wait("the write in the log", `[...document.querySelectorAll('#activity li')].some(li => li.textContent.includes('wrote view: view page 3 → store page 1 (1 B)'))`)
		b.wait("the alias lit", `document.querySelector('#picture .hit.vp[data-v="1"]').dataset.lit === 'write'`)
		b.wait("the new letters", viewLetters+` === 'AZCZ'`)
		sh(t, mnt, "cat data > /dev/null")
		b.wait("the data read", `[...document.querySelectorAll('#activity li')].some(li => li.textContent.includes('read data: pages 0-2'))`)
	})

	t.Run("named views", func(t *testing.T) {
		b := b.on(t)
		sh(t, mnt, "mkdir views/a")
		b.wait("view a offered", `[...document.getElementById('views').options].some(o => o.value === 'a')`)
		b.do("choose view a", chromedp.Evaluate[chromedp.Void](`(() => { const s = document.getElementById('views'); s.value = 'a'; s.dispatchEvent(new Event('change')); })()`))
		b.wait("view a's layout", `document.getElementById('layout').textContent === `+js(string(mustView(t, e, "a").LayoutText())))
		b.wait("view a's status", `document.querySelector('#status tr[data-key="view"] .v')?.textContent === 'a'`)
		b.wait("view a's picture", `document.querySelectorAll('#picture .hit.vp').length === 3`)
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
		b.wait("a change after the reconnect", `document.querySelectorAll('#picture .hit.vp[data-f="0"]').length === 2`)

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
		b.wait("the plot", `document.querySelector('#picture .overlay .hit.plot') !== null`)
		b.wait("the title", `document.getElementById('picture-title').textContent.startsWith('60000 view pages, 60000 runs')`)
		b.screenshot("live-60k.png", func() {
			// Hovering the plot two fifths across names a view page there and the store page it
			// shows: in a stride-4 interleave of n pages, view page v shows (v mod n/4)*4 + v/(n/4),
			// some 36000 there: the crosshair is well inside the plot, not on its frame.
			b.hoverAt(`#picture .overlay .hit.plot`, 0.4, 0.5)
			b.wait("the hover line", `/^view page \d+ shows store page \d+/.test(document.getElementById('hover').textContent)`)
			var v, f int64
			if _, err := fmt.Sscanf(b.text("hover"), "view page %d shows store page %d", &v, &f); err != nil {
				t.Fatalf("hover line %q: %v", b.text("hover"), err)
			}
			if want := (v%(n/4))*4 + v/(n/4); v < n*35/100 || v > n*45/100 || f != want || f < n/4 || f > n*3/4 {
				t.Errorf("hovering the plot two fifths across: view page %d store page %d, want a page near %d showing %d, away from the plot's edges", v, f, n*2/5, want)
			}
			b.wait("the crosshair", `document.querySelectorAll('#picture .overlay .cross').length === 2`)
			// A read of 20 MiB from 100 MiB in (view pages 25600-30719) lights its stretch of the
			// view and the store pages behind it, across the store.
			sh(t, mnt, "dd if=view of=/dev/null bs=1M skip=100 count=20 iflag=direct status=none") // direct: exactly these 20 MiB reach the daemon, whatever the page cache holds
			b.wait("activity bands", `document.querySelectorAll('#picture .overlay .flash.read').length > 0`)
			b.freeze()
			b.wait("the whole read told", `document.getElementById('totals').textContent.includes('20.0 MiB read')`)
			b.wait("the read in the log", `[...document.querySelectorAll('#activity li')].some(li => li.textContent.includes('read view: view pages 25600-'))`)
		})
		b.click("#steps-force")
		b.wait("too many calls refused", `/^the layout takes \d+ remap calls; at most 256 are drawn one by one$/.test(document.getElementById('step-text').textContent)`)
		b.wait("no reload", notReloaded)
	})

	// Nothing the page did was blocked by its own policy (the inline script and style by hash,
	// the step player's picture from a blob: URL, map.svg's density image from a data: URL).
	if v := b.eval(`document.body.dataset.cspViolations || ''`); v != "" {
		t.Errorf("the page's Content-Security-Policy blocked: %s", v)
	}
}

// mustView is the named view, or the test fails.
func mustView(t *testing.T, e *engine.Engine, name string) *engine.View {
	t.Helper()
	v, ok := e.View(name)
	if !ok {
		t.Fatalf("no view %q", name)
	}
	return v
}
