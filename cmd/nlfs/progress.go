package main

import (
	"fmt"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Progress on long work (loading a source, writing a view): a bar on stderr
// when stderr is a terminal and the work is more than progressMin bytes, and
// nothing otherwise, so that scripts and logs see no bar.
const progressMin = 256 << 20

// worthShowing tells whether work at loaded of total bytes (-1: not known
// ahead) deserves a bar.
func worthShowing(loaded, total int64) bool {
	return total > progressMin || total < 0 && loaded > progressMin
}

// progress is one bar; nil, and every method a no-op, when stderr is not a
// terminal.
type progress struct {
	what  string
	total int64
	bar   *progressbar.ProgressBar // made once the work is worth showing
}

func newProgress(what string, total int64) *progress {
	if !term.IsTerminal(int(os.Stderr.Fd())) {
		return nil
	}
	return &progress{what: what, total: total}
}

// set moves the bar to loaded bytes.
func (p *progress) set(loaded int64) {
	if p == nil || p.bar == nil && !worthShowing(loaded, p.total) {
		return
	}
	if p.bar == nil {
		p.bar = progressbar.NewOptions64(p.total,
			progressbar.OptionSetWriter(os.Stderr),
			progressbar.OptionSetDescription("nlfs: "+p.what),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowCount(),
			progressbar.OptionUseIECUnits(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(os.Stderr) }),
		)
	}
	p.bar.Set64(loaded)
}

// done draws the bar finished and ends its line.
func (p *progress) done() {
	if p == nil || p.bar == nil {
		return
	}
	p.bar.Finish()
	p.bar = nil
}
