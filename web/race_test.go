package web

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nlfs/nlfs/engine"
)

// TestPutRacesRemoval: a layout PUT for a named view that is removed and made again meanwhile
// is applied (204) or answered 404 (the view is gone), never refused as a bad layout.
func TestPutRacesRemoval(t *testing.T) {
	e := newEngine(t, engine.Options{Source: bytes.NewReader(letters(4))})
	s := newServer(t, e, Options{})
	if _, err := e.CreateView("b"); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			e.RemoveView("b")
			e.CreateView("b")
		}
	})
	codes := map[int]int{}
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); {
		resp, body := call(t, s, "PUT", "/layout?view=b", strings.NewReader("3-0"), nil)
		codes[resp.StatusCode]++
		if resp.StatusCode != 204 && resp.StatusCode != 404 {
			t.Errorf("PUT racing the view's removal: %d %q, want 204 or 404", resp.StatusCode, body)
			break
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("answers: %v", codes)
}
