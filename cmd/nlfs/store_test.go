package main

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nlfs/nlfs/internal/testenv"
	"github.com/nlfs/nlfs/layout"
)

// TestStore: with --store the store is a file that outlives its daemon: written at once,
// its views and their layouts resumed by the next mount; one daemon per store; an existing
// store takes no --pages or --source.
func TestStore(t *testing.T) {
	testenv.RequireFUSE(t)
	store := filepath.Join(t.TempDir(), "store")
	dir, pid := mountDir(t, "--store", store, "--pages", "4")
	sh(t, fmt.Sprintf(`cd %q && printf abc | dd of=data conv=notrunc status=none && echo 3-0 > layout && mkdir views/a && echo 1 1 > views/a/layout`, dir))
	if got, _ := os.ReadFile(store); string(got[:3]) != "abc" || len(got) != 4*4096 {
		t.Errorf("the store file holds %d bytes starting %q, want data's 16384 starting abc", len(got), got[:min(3, len(got))])
	}

	other := t.TempDir()
	r := nlfs(t, "", "mount", "--store", store, other)
	checkOneLine(t, r, exitStore, fmt.Sprintf("is held by the nlfs daemon %d serving %s", pid, quote(dir)))
	checkNoMount(t, other)
	r = nlfs(t, "", "mount", "--store", store, "--pages", "8", other)
	checkOneLine(t, r, exitStore, "exists: its bytes are the data, so it takes no --pages or --source")

	if r := nlfs(t, "", "umount", dir); r.code != 0 {
		t.Fatalf("umount: %s", r.stderr)
	}
	processGone(pid, 5*time.Second)
	dir2, _ := mountDir(t, "--store", store)
	got := sh(t, fmt.Sprintf(`cd %q && head -c 3 data; echo; cat layout views/a/layout; grep -E '^(store|views):' status`, dir2))
	want := "abc\n3-0\n1*2\nstore: " + store + "\nviews: a\n"
	if got != want {
		t.Errorf("after a remount of the store:\n%s\nwant:\n%s", got, want)
	}
	nlfs(t, "", "umount", dir2)
}

// The soak test: many cycles of random writes (by write(2) and through mappings of the
// views) and random layouts on a --store mount, each ended by kill -9 of the daemon at a
// random moment, then a remount of the same store. After each cycle, every write that had
// returned is in data (or was overwritten by a later one), every layout that had applied is
// in force (or replaced by a later one); a write or layout in flight at the kill may be
// there or not. It counts the bytes lost, which must be 0.

const soakClientEnv = "NLFS_SOAK_CLIENT"

const soakPages = 16

// soakClient runs one operation and exits 0 once it has returned:
//
//	pwrite FILE PAGE TAG   write the 8-byte TAG at the start of page PAGE with pwrite(2)
//	mapwrite FILE PAGE TAG store it through a shared writable mapping, then msync
func soakClient(name string, args []string) int {
	page, _ := strconv.ParseInt(args[1], 10, 64)
	tag, _ := strconv.ParseUint(args[2], 10, 64)
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], tag)
	f, err := os.OpenFile(args[0], os.O_RDWR, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer f.Close()
	switch name {
	case "pwrite":
		if _, err := f.WriteAt(b[:], page*4096); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	case "mapwrite":
		m, err := unix.Mmap(int(f.Fd()), page*4096, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		copy(m, b[:])
		if err := unix.Msync(m, unix.MS_SYNC); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	default:
		return 2
	}
	if err := f.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// soakModel is what the store must hold: for each store page the tag of the last write that
// returned, plus the tags of writes that were in flight at the kill; for each view the
// canonical text of the last layout that applied, plus the one in flight.
type soakModel struct {
	acked    [soakPages]uint64
	inflight [soakPages][]uint64
	layout   map[string]string   // view ("" for the main one) -> canonical text in force
	pending  map[string][]string // view -> layouts in flight at the kill
	pages    map[string][]int64  // view -> its page list (the store page at each view page)
}

func TestStoreSoak(t *testing.T) {
	testenv.RequireFUSE(t)
	cycles := 25
	if n, err := strconv.Atoi(os.Getenv("NLFS_SOAK_CYCLES")); err == nil {
		cycles = n
	}
	store := filepath.Join("/dev/shm", fmt.Sprintf("nlfs-soak-%d", os.Getpid()))
	t.Cleanup(func() { os.Remove(store); os.RemoveAll(store + ".nlfs") })
	dir := t.TempDir()
	t.Cleanup(func() {
		if isMounted(dir) {
			detach(dir)
		}
	})
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	identity := make([]int64, soakPages)
	for i := range identity {
		identity[i] = int64(i)
	}
	m := &soakModel{
		layout:  map[string]string{"": layout.Canonical(layout.Compile(identity)), "a": layout.Canonical(layout.Compile(identity))},
		pending: map[string][]string{},
		pages:   map[string][]int64{"": identity, "a": identity},
	}
	var ops, acked, lost int
	for cycle := 0; cycle < cycles; cycle++ {
		args := []string{"mount", "--store", store}
		if cycle == 0 {
			args = append(args, "--pages", strconv.Itoa(soakPages))
		}
		r := nlfs(t, "", append(args, dir)...)
		if r.code != 0 {
			t.Fatalf("cycle %d: mount: %s", cycle, r.stderr)
		}
		pid := daemonPid(t, r.stdout)
		if cycle == 0 {
			sh(t, "mkdir "+dir+"/views/a && echo 0-15 > "+dir+"/views/a/layout && echo 0-15 > "+dir+"/layout")
		}
		lost += m.verify(t, cycle, dir)

		// Work until the kill.
		killAt := time.Now().Add(time.Duration(20+rng.IntN(300)) * time.Millisecond)
		killed := make(chan struct{})
		go func() {
			time.Sleep(time.Until(killAt))
			unix.Kill(pid, unix.SIGKILL)
			close(killed)
		}()
		for alive := true; alive; {
			ops++
			ok := m.step(t, rng, dir)
			if ok {
				acked++
			}
			select {
			case <-killed:
				alive = false
			default:
				if !ok {
					// A refusal with the daemon alive is a failure of its own.
					if !processGone(pid, time.Second) {
						t.Fatalf("cycle %d: an operation failed with the daemon alive", cycle)
					}
				}
			}
		}
		<-killed
		if !processGone(pid, 5*time.Second) {
			t.Fatalf("cycle %d: daemon %d survived kill -9", cycle, pid)
		}
	}
	r := nlfs(t, "", "mount", "--store", store, dir)
	if r.code != 0 {
		t.Fatalf("final mount: %s", r.stderr)
	}
	lost += m.verify(t, cycles, dir)
	nlfs(t, "", "umount", dir)
	t.Logf("soak: %d cycles of kill -9, %d operations (%d returned before the kill), bytes lost: %d", cycles, ops, acked, lost*8)
	if lost != 0 {
		t.Errorf("%d acknowledged writes lost (%d bytes)", lost, lost*8)
	}
}

// step runs one random operation and records it: acknowledged if it returned, in flight
// otherwise. It reports whether it returned.
func (m *soakModel) step(t *testing.T, rng *rand.Rand, dir string) bool {
	tag := rng.Uint64()>>1 + 1
	view := []string{"", "a"}[rng.IntN(2)]
	viewDir := dir
	if view != "" {
		viewDir = filepath.Join(dir, "views", view)
	}
	switch k := rng.IntN(4); k {
	case 0, 1: // a write: of data by pwrite, or of a view through a mapping
		file, page, store := filepath.Join(dir, "data"), rng.Int64N(soakPages), int64(0)
		client := "pwrite"
		store = page
		if k == 1 {
			file, client = filepath.Join(viewDir, "view"), "mapwrite"
			pages := m.pages[view]
			page = rng.Int64N(int64(len(pages)))
			store = pages[page]
		}
		cmd := exec.Command(os.Args[0], file, strconv.FormatInt(page, 10), strconv.FormatUint(tag, 10))
		cmd.Env = append(os.Environ(), soakClientEnv+"="+client)
		if cmd.Run() == nil {
			m.acked[store] = tag
			m.inflight[store] = nil // the page now holds this tag, whatever was in flight
			return true
		}
		m.inflight[store] = append(m.inflight[store], tag)
		return false
	default: // a layout on one of the views
		pages := make([]int64, 1+rng.IntN(2*soakPages))
		for i := range pages {
			pages[i] = rng.Int64N(soakPages)
		}
		text := layout.Canonical(layout.Compile(pages))
		cmd := exec.Command("dd", "of="+filepath.Join(viewDir, "layout"), "status=none")
		cmd.Stdin = strings.NewReader(text)
		if cmd.Run() == nil {
			m.layout[view], m.pages[view], m.pending[view] = text, pages, nil
			return true
		}
		m.pending[view] = append(m.pending[view], text)
		return false
	}
}

// verify checks the remounted store against the model, and settles what was in flight to
// what the store holds. It returns the acknowledged writes lost.
func (m *soakModel) verify(t *testing.T, cycle int, dir string) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "data"))
	if err != nil || len(data) != soakPages*4096 {
		t.Fatalf("cycle %d: data: %d bytes, %v", cycle, len(data), err)
	}
	lost := 0
	for p := 0; p < soakPages; p++ {
		got := binary.LittleEndian.Uint64(data[p*4096:])
		switch {
		case got == m.acked[p]:
		case slices.Contains(m.inflight[p], got):
			m.acked[p] = got
		default:
			lost++
			t.Errorf("cycle %d: store page %d holds %d, want %d (the last write that returned) or one in flight %v", cycle, p, got, m.acked[p], m.inflight[p])
			m.acked[p] = got
		}
		m.inflight[p] = nil
	}
	for view, want := range m.layout {
		file := filepath.Join(dir, "layout")
		if view != "" {
			file = filepath.Join(dir, "views", view, "layout")
		}
		b, err := os.ReadFile(file)
		got := string(b)
		switch {
		case err != nil:
			t.Errorf("cycle %d: view %q: %v", cycle, view, err)
		case got == want:
		case slices.Contains(m.pending[view], got):
			l, _ := layout.Parse(b, layout.Limits{DataPages: soakPages})
			m.layout[view], m.pages[view] = got, pagesOf(l)
		default:
			t.Errorf("cycle %d: view %q has layout %q, want %q (the last applied) or one in flight %q", cycle, view, got, want, m.pending[view])
		}
		m.pending[view] = nil
	}
	return lost
}

func pagesOf(l *layout.Layout) []int64 {
	var pages []int64
	for _, r := range l.Runs {
		for i := int64(0); i < r.Count; i++ {
			pages = append(pages, r.File+i)
		}
	}
	return pages
}
