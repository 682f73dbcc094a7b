package fs

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nlfs/nlfs/engine"
)

// TestOpenRacesRmdir: opens of a named view's files race rmdir and mkdir of the view. An open
// that wins works until it is closed (rmdir is then EBUSY); an rmdir that wins makes later
// opens fail with ENOENT. Nothing ever gets EIO.
func TestOpenRacesRmdir(t *testing.T) {
	mnt, _ := testMount(t, engine.Options{Source: bytes.NewReader(letters(4))})
	dir := filepath.Join(mnt, "views", "x")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[string]int{}
	note := func(what string, err error) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			counts[what+" ok"]++
		case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.EBUSY), errors.Is(err, syscall.EEXIST):
			counts[what+" "+err.(*os.PathError).Err.Error()]++
		default:
			t.Errorf("%s: %v", what, err)
		}
	}
	for _, name := range []string{"view", "status"} {
		wg.Go(func() {
			buf := make([]byte, 4096)
			for {
				select {
				case <-stop:
					return
				default:
				}
				flag := os.O_RDONLY
				if name == "view" {
					flag = os.O_RDWR // direct I/O: every read reaches the daemon
				}
				f, err := os.OpenFile(filepath.Join(dir, name), flag, 0)
				note("open "+name, err)
				if err != nil {
					continue
				}
				if _, err := f.Read(buf); err != nil && err != io.EOF {
					t.Errorf("read of an open %s: %v", name, err)
				}
				f.Close()
			}
		})
	}
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			note("rmdir", os.Remove(dir))
			note("mkdir", os.Mkdir(dir, 0o755))
		}
	})
	stopWatch := watchdog(t, mnt, 30*time.Second, "open against rmdir")
	time.Sleep(3 * time.Second)
	close(stop)
	wg.Wait()
	stopWatch()
	t.Logf("outcomes: %v", counts)
	if counts["rmdir ok"] == 0 || counts["open view ok"] == 0 {
		t.Errorf("the race was not run: %v", counts)
	}
}
