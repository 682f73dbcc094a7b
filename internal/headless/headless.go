// Package headless starts the headless Chromium that the live page's browser test and the
// picture command drive, with the flags this kind of machine needs.
package headless

import (
	"context"
	"fmt"
	"time"

	"github.com/chromedp/chromedp"
)

// Start starts Chromium at path with its profile in dir (which the caller removes) and
// returns a context with one tab, and the function that ends it. extra adds options (a window
// size, hidden scrollbars). The first action starts the browser; it must come within a minute.
func Start(path, dir string, extra ...chromedp.ExecAllocatorOption) (context.Context, func(), error) {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		// Without these, a machine with no network makes Chromium try, fail and misbehave.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(dir),
	)
	opts = append(opts, extra...)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	stop := func() { cancel(); acancel() }
	// The first run starts the browser and lives as long as ctx: no timeout on it, a timer.
	timer := time.AfterFunc(time.Minute, cancel)
	defer timer.Stop()
	if err := chromedp.Do(ctx); err != nil {
		stop()
		return nil, nil, fmt.Errorf("start chromium: %w", err)
	}
	return ctx, stop, nil
}
