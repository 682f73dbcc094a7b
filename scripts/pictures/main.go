// Command pictures draws every picture of README.md and docs/ from the current code, so that no
// picture can show what the code no longer draws.
//
//	go run ./scripts/pictures          draw them all: needs chromium (apt-get install chromium)
//	go run ./scripts/pictures -check   say whether each picture is what the code draws now
//	go run ./scripts/pictures -live=false   leave the live page's screenshots alone
//
// Each drawn picture of docs/ has its source beside it (map-tlpi.png, map-tlpi.svg): the exact
// SVG the renderers (layout/render) make of it now, which Chromium turned into the PNG. The PNG carries
// the SHA-256 of that source in a text chunk. So the test of this package (and -check) needs no
// browser: it draws every source again from the code and compares it, byte for byte, with the
// one in docs/, and compares the hash in each PNG with its source. A picture is stale exactly when
// its source changed; PNG bytes, which differ between Chromium builds and fonts, are never
// compared.
//
// The live page's screenshots (docs/live-tlpi.png, docs/live-60k.png) are taken by the web
// package's browser test against a real mount; this command runs that test with
// NLFS_UPDATE_SCREENSHOTS=1, so that one command makes every picture (livePictures names them).
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/nlfs/nlfs/internal/headless"
	"github.com/nlfs/nlfs/layout"
	"github.com/nlfs/nlfs/layout/render"
)

// A picture is one drawing of the documentation: Name.png in docs/, drawn from the SVG Source makes.
type picture struct {
	Name   string
	Source func() ([]byte, error)
}

// pictures are the drawings README.md and docs/ show, each as the code draws it: map.svg of a
// mount (render.Illustration: a fixed address, the demos' letters) and `nlfs layout show --steps
// --svg`.
var pictures = []picture{
	{"map-tlpi", mapSVG("2 1 0", 3)},               // TLPI Figure 49-5, the tlpi demo
	{"map-4-5_2-5", mapSVG("0-5\nremap 0 2 4", 6)}, // the course's exercise 2
	{"steps-ltp", stepsSVG(ltpLayout(), 16)},       // LTP remap_file_pages01, the ltp demo
}

// livePictures are the live page's screenshots, taken by liveTest with a real mount and browser.
var livePictures = []string{"live-tlpi", "live-60k"}

// liveTest is the test that takes livePictures when NLFS_UPDATE_SCREENSHOTS=1.
var liveTest = []string{"test", "./web", "-run", "^TestBrowser$", "-count=1"}

// mapSVG is map.svg of a mount of pages store pages with the layout text in force.
func mapSVG(text string, pages int64) func() ([]byte, error) {
	return func() ([]byte, error) {
		l, err := layout.Parse([]byte(text), layout.Limits{DataPages: pages})
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		err = render.SVG(&b, l.Runs, render.Illustration(l.Runs, pages, "remap"))
		return b.Bytes(), err
	}
}

// stepsSVG is what `nlfs layout show --steps --svg --pages N` draws of text.
func stepsSVG(text string, pages int64) func() ([]byte, error) {
	return func() ([]byte, error) {
		_, steps, err := layout.Steps([]byte(text), layout.Limits{DataPages: pages})
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		err = render.StepsSVG(&b, steps, render.Info{DataPages: pages, VMAs: -1})
		return b.Bytes(), err
	}
}

// ltpLayout is LTP remap_file_pages01's calls as the ltp demo writes them: a 16-page window, each
// view page p made to show store page p xor 1, one call per page.
func ltpLayout() string {
	var b strings.Builder
	for p := range 16 {
		fmt.Fprintf(&b, "remap %d 1 %d\n", p, p^1)
	}
	return b.String()
}

func main() {
	check := flag.Bool("check", false, "only check that each picture is what the code draws now")
	live := flag.Bool("live", true, "also take the live page's screenshots ("+strings.Join(livePictures, ", ")+")")
	flag.Parse()
	root, err := repoRoot()
	if err == nil && *check {
		err = errors.Join(checkPictures(root)...)
	} else if err == nil {
		err = draw(root, *live)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pictures:", err)
		os.Exit(1)
	}
}

// repoRoot is the repository's top directory: where go.mod is, from the working directory up.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", errors.New("no go.mod here or above: run it in the repository")
		}
		dir = up
	}
}

// draw writes every picture's source and PNG into root/docs, then has the browser test take the
// live page's screenshots.
func draw(root string, live bool) error {
	browser, err := newBrowser()
	if err != nil {
		return err
	}
	defer browser.close()
	for _, p := range pictures {
		src, err := p.Source()
		if err != nil {
			return fmt.Errorf("%s: %w", p.Name, err)
		}
		svg := filepath.Join(root, "docs", p.Name+".svg")
		if err := os.WriteFile(svg, src, 0o644); err != nil {
			return err
		}
		shot, err := browser.shoot(svg, src)
		if err != nil {
			return fmt.Errorf("%s: %w", p.Name, err)
		}
		shot, err = withSource(shot, src)
		if err != nil {
			return fmt.Errorf("%s: %w", p.Name, err)
		}
		if err := os.WriteFile(filepath.Join(root, "docs", p.Name+".png"), shot, 0o644); err != nil {
			return err
		}
		fmt.Printf("docs/%s.png from docs/%s.svg\n", p.Name, p.Name)
	}
	if !live {
		return nil
	}
	fmt.Printf("docs/%s.png: go %s (NLFS_UPDATE_SCREENSHOTS=1)\n", strings.Join(livePictures, ".png, docs/"), strings.Join(liveTest, " "))
	cmd := exec.Command("go", liveTest...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = root, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "NLFS_UPDATE_SCREENSHOTS=1", "NLFS_REQUIRE_FUSE=1", "NLFS_REQUIRE_CHROMIUM=1")
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("the live page's screenshots: %w", err)
	}
	return nil
}

// checkPictures says, for each picture, how it is not what the code draws now: its source in
// docs/ differs from what the renderers make, or its PNG was not drawn from that source. Every
// PNG in docs/ must be one of pictures or livePictures, so that none is made by hand.
func checkPictures(root string) []error {
	var errs []error
	again := "run: go run ./scripts/pictures"
	known := map[string]bool{}
	for _, n := range livePictures {
		known[n+".png"] = true
	}
	for _, p := range pictures {
		known[p.Name+".png"] = true
		want, err := p.Source()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.Name, err))
			continue
		}
		src, err := os.ReadFile(filepath.Join(root, "docs", p.Name+".svg"))
		if err != nil {
			errs = append(errs, fmt.Errorf("docs/%s.svg: %w (%s)", p.Name, err, again))
			continue
		}
		if !bytes.Equal(src, want) {
			errs = append(errs, fmt.Errorf("docs/%s.svg is not what the code draws now: the picture is stale (%s)", p.Name, again))
			continue
		}
		png, err := os.ReadFile(filepath.Join(root, "docs", p.Name+".png"))
		if err != nil {
			errs = append(errs, fmt.Errorf("docs/%s.png: %w (%s)", p.Name, err, again))
			continue
		}
		if got, ok := sourceOf(png); !ok || got != sourceHash(src) {
			errs = append(errs, fmt.Errorf("docs/%s.png was not drawn from docs/%s.svg (%s)", p.Name, p.Name, again))
		}
	}
	pngs, _ := filepath.Glob(filepath.Join(root, "docs", "*.png"))
	for _, f := range pngs {
		if !known[filepath.Base(f)] {
			errs = append(errs, fmt.Errorf("docs/%s is made by no command: add it to scripts/pictures", filepath.Base(f)))
		}
	}
	return errs
}

// sourceKey is the keyword of the PNG text chunk that holds the picture's source hash.
const sourceKey = "nlfs-source-sha256"

func sourceHash(src []byte) string {
	h := sha256.Sum256(src)
	return hex.EncodeToString(h[:])
}

// withSource returns the PNG with a tEXt chunk holding the SHA-256 of its source, right after
// the header chunk.
func withSource(png, src []byte) ([]byte, error) {
	const sig = 8
	if len(png) < sig+8+13+4 || string(png[12:16]) != "IHDR" {
		return nil, errors.New("the browser's screenshot is not a PNG")
	}
	ihdrEnd := sig + 8 + int(binary.BigEndian.Uint32(png[sig:])) + 4
	data := append([]byte(sourceKey+"\x00"), sourceHash(src)...)
	chunk := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	chunk = append(chunk, "tEXt"...)
	chunk = append(chunk, data...)
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(chunk[4:]))
	out := append([]byte{}, png[:ihdrEnd]...)
	out = append(out, chunk...)
	return append(out, png[ihdrEnd:]...), nil
}

// sourceOf reads the source hash out of a PNG's text chunk.
func sourceOf(png []byte) (string, bool) {
	for i := 8; i+12 <= len(png); {
		n := int(binary.BigEndian.Uint32(png[i:]))
		if i+12+n > len(png) {
			return "", false
		}
		kind, data := string(png[i+4:i+8]), png[i+8:i+8+n]
		if key, text, ok := bytes.Cut(data, []byte{0}); kind == "tEXt" && ok && string(key) == sourceKey {
			return string(text), true
		}
		i += 12 + n
	}
	return "", false
}

// browser is one headless Chromium with one tab.
type browser struct {
	ctx    context.Context
	cancel func()
}

func newBrowser() (*browser, error) {
	var path string
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		return nil, errors.New("chromium is missing: apt-get install chromium")
	}
	profile, err := os.MkdirTemp("", "nlfs-pictures-")
	if err != nil {
		return nil, err
	}
	ctx, stop, err := headless.Start(path, profile, chromedp.Flag("hide-scrollbars", true))
	if err != nil {
		os.RemoveAll(profile)
		return nil, err
	}
	b := &browser{ctx: ctx, cancel: func() { stop(); os.RemoveAll(profile) }}
	return b, nil
}

func (b *browser) close() { b.cancel() }

var svgSize = regexp.MustCompile(`<svg [^>]*width="([\d.]+)" height="([\d.]+)"`)

// shoot draws the SVG file at path (whose text is src) at twice its size in pixels, so that it
// is sharp on any screen, and returns the PNG.
func (b *browser) shoot(path string, src []byte) ([]byte, error) {
	m := svgSize.FindSubmatch(src)
	if m == nil {
		return nil, errors.New("the SVG does not say its size")
	}
	w, _ := strconv.ParseFloat(string(m[1]), 64)
	h, _ := strconv.ParseFloat(string(m[2]), 64)
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	err := chromedp.Do(ctx,
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
				Width: int64(w + 0.999), Height: int64(h + 0.999), DeviceScaleFactor: 2})
			return err
		}),
		chromedp.Navigate("file://"+path))
	if err != nil {
		return nil, err
	}
	return chromedp.Run(ctx, chromedp.CaptureScreenshot())
}
