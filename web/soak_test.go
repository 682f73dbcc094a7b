package web

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/nlfs/nlfs/engine"
)

// TestSoakMemory measures the daemon's memory (this process: engine, mount and page server)
// with a browser on the page while a shell flips the layout through the mount every 100 ms and
// reads the view now and then, for the duration in NLFS_WEB_SOAK; skipped without it:
//
//	NLFS_WEB_SOAK=10m NLFS_REQUIRE_FUSE=1 go test -count=1 -run TestSoakMemory -v -timeout 20m ./web/
//
// It fails if the Go heap (after a collection) grows by more than 16 MiB from the first minute
// to the end, or if the page stopped following the mount.
func TestSoakMemory(t *testing.T) {
	env := os.Getenv("NLFS_WEB_SOAK")
	if env == "" {
		t.Skip("set NLFS_WEB_SOAK to a duration (e.g. 10m) for the long run")
	}
	dur, err := time.ParseDuration(env)
	if err != nil {
		t.Fatalf("NLFS_WEB_SOAK=%q: %v", env, err)
	}
	mnt, e := testMount(t, engine.Options{Source: bytes.NewReader(letters(3))})
	s := newServer(t, e, Options{})
	b := newBrowser(t)
	b.do("open the page", chromedp.Navigate(s.URL()))
	b.wait("the stream to be live", `document.getElementById('conn').textContent === 'live'`)

	script := fmt.Sprintf(`cd "$1" && end=$((SECONDS + %d)) && for ((i = 0; SECONDS < end; i++)); do
		if ((i %% 2)); then echo 2 1 0 > layout; else echo 0 1 2 > layout; fi
		if ((i %% 10 == 0)); then cat view > /dev/null; fi
		sleep 0.1
	done`, int(dur.Seconds()))
	cmd := exec.Command("bash", "-c", script, "bash", mnt)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stop := watchdog(t, mnt, dur*2+2*time.Minute, "the layout flipper")
	defer stop()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	type sample struct {
		at        time.Duration
		rss, heap uint64
		gen       int64
	}
	var samples []sample
	measure := func(at time.Duration) sample {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		sm := sample{at: at, rss: vmRSS(t), heap: ms.HeapAlloc, gen: e.Main().Generation()}
		samples = append(samples, sm)
		t.Logf("%6.0fs  RSS %6.1f MiB  heap %5.1f MiB  generation %d", at.Seconds(), mib(sm.rss), mib(sm.heap), sm.gen)
		return sm
	}
	start := time.Now()
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	measure(0)
	for running := true; running; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("the flipper: %v: %s", err, stderr.String())
			}
			running = false
		case <-tick.C:
			measure(time.Since(start))
		}
	}
	end := measure(time.Since(start))
	b.wait("the page to show the last layout", fmt.Sprintf(
		`document.querySelector('#status tr[data-key="generation"] .v')?.textContent === %q`, strconv.FormatInt(e.Main().Generation(), 10)))

	// The first minute brings the page, the browser's connection and the caches up.
	base := samples[0]
	for _, sm := range samples {
		if sm.at >= time.Minute || sm.at == end.at {
			base = sm
			break
		}
	}
	var top sample
	for _, sm := range samples {
		if sm.rss > top.rss {
			top = sm
		}
	}
	t.Logf("daemon memory over %v, %d layout flips with the page open: RSS %.1f MiB at %v, %.1f MiB at the end (most %.1f MiB); Go heap after GC %.1f -> %.1f MiB",
		dur, end.gen, mib(base.rss), base.at.Round(time.Second), mib(end.rss), mib(top.rss), mib(base.heap), mib(end.heap))
	if end.heap > base.heap+16<<20 {
		t.Errorf("the heap grew from %.1f to %.1f MiB: something keeps what each flip leaves", mib(base.heap), mib(end.heap))
	}
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// vmRSS is this process's resident set size.
func vmRSS(t *testing.T) uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}
