package fs

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/nlfs/nlfs/layout"

	"github.com/nlfs/nlfs/engine"

	"github.com/nlfs/nlfs/internal/fusectl"
	"github.com/nlfs/nlfs/internal/fusetest"
	"github.com/nlfs/nlfs/internal/testenv"
	"github.com/nlfs/nlfs/run"
)

// The mount FuzzLayoutWrite writes to: 8 store pages, page p filled with
// 'A'+p, and a small --max-view-pages so that the memory any input may cost
// is small and known.
const (
	fuzzDataPages = 8
	fuzzMaxView   = 64
	// fuzzHeapLimit bounds the heap of the fuzzing process (which is also
	// the serving daemon) after any input.
	fuzzHeapLimit = 256 << 20
	// fuzzInputTimeout: an input that takes longer than this is a hang.
	// Shorter than the fuzzing engine's own 10 s, so that ours reports it.
	fuzzInputTimeout = 8 * time.Second
	// fuzzMountPrefix names the fuzz mounts, so that a worker can clear
	// dead mounts a killed worker of an earlier run left (and only those).
	fuzzMountPrefix = "nlfs-fuzz-"
)

// sharedMount is one mount per process, made on first use and kept for the
// whole fuzz run (a fuzz worker runs many inputs in one process).
type sharedMount struct {
	once sync.Once
	mnt  string
	e    *engine.Engine
	root *Root
	srv  *fuse.Server
	err  error
	// conn is the mount's FUSE connection number (its device minor), to
	// abort it from /sys/fs/fuse/connections if the daemon hangs.
	conn uint32
	// panicked holds the first FUSE handler panic.
	panicked atomic.Pointer[string]
	// mapper maps view for fuzzViewMapper.check, from the first input on.
	mapper fuzzViewMapper
}

var (
	fuzzMount  sharedMount
	fuzzInputs atomic.Int64 // inputs run by this process
)

func (s *sharedMount) get(opts engine.Options) (string, error) {
	s.once.Do(func() {
		clearDeadFuzzMounts()
		s.mnt, s.err = os.MkdirTemp("", fuzzMountPrefix)
		if s.err != nil {
			return
		}
		if s.e, s.err = engine.New(opts); s.err != nil {
			return
		}
		s.srv, s.root, s.err = Mount(s.mnt, s.e, MountOptions{
			Logger: log.New(os.Stderr, "nlfs fuzz mount: ", 0),
			PanicHandler: func(p any) fuse.Status {
				msg := fmt.Sprint(p)
				s.panicked.CompareAndSwap(nil, &msg)
				return fuse.EIO
			},
		})
		if s.err != nil {
			s.e.Close()
			s.e = nil
			return
		}
		s.conn, _ = fusetest.NoteConn(s.mnt) // for the mapper's watchdog (abortMount) too
	})
	return s.mnt, s.err
}

// abort aborts the mount's FUSE connection: every request fails at once.
func (s *sharedMount) abort() {
	if s.conn != 0 {
		fusectl.Abort(s.conn)
	}
}

func (s *sharedMount) close() {
	if c := s.mapper.c; c != nil {
		// Its mapping keeps the mount busy: end it first, under a watchdog of its own (the
		// client's test, an input's, is over).
		timer := time.AfterFunc(mapperTimeout, s.abort)
		c.in.Close()
		c.cmd.Wait()
		timer.Stop()
	}
	if s.srv != nil {
		if err := s.srv.Unmount(); err != nil {
			unix.Unmount(s.mnt, unix.MNT_DETACH)
		}
		s.srv.Wait()
		s.srv = nil
	}
	if s.root != nil {
		s.root.Close()
		s.root = nil
	}
	if s.e != nil {
		s.e.Close()
		s.e = nil
	}
	if s.mnt != "" {
		os.Remove(s.mnt)
	}
	// Start over: `go test -count=N` runs the fuzz target again and
	// mounts anew.
	*s = sharedMount{}
}

// clearDeadFuzzMounts detaches fuzz mounts whose serving process is gone (a
// fuzz worker killed by the coordinator's SIGKILL cannot unmount). Only
// mounts named by fuzzMountPrefix under the temporary directory are looked
// at, and only dead ones (ENOTCONN or ECONNABORTED) are touched.
func clearDeadFuzzMounts() {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return
	}
	defer f.Close()
	prefix := filepath.Join(os.TempDir(), fuzzMountPrefix)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 || !strings.HasPrefix(fields[4], prefix) {
			continue
		}
		var st unix.Stat_t
		if err := unix.Stat(fields[4], &st); err == unix.ENOTCONN || err == unix.ECONNABORTED {
			unix.Unmount(fields[4], unix.MNT_DETACH)
			os.Remove(fields[4])
		}
	}
}

// fuzzSeeds are layouts, good and bad, written in various chunkings.
var fuzzSeeds = []string{
	"", "\n", "# only a comment\n", "2 1 0", "7-0\n", "0-3 7-4", "0*3, 5-4\nremap 1 1 6\n",
	"0-1*2", "remap 0 2 6", "0x7 0X6 0x00", "1\r\n2\r\n", "0 1\n2 12\n", "0 x 1",
	"0*99999999999", "99999999999999999999999", "0-3\nremap 2 5 0\n", "remap 0 0 1",
	"remap 0 1", "remap 0 1 2 3", "0 remap 0 1 1", "0x", "0xg", "-1", "1--2", "*3", "0*0",
	"0 - 3", "\x00", "0\x001", "\xff\xfe", "0*65", "0*64", "0-7*8", "0-7*9", "remap 63 1 0",
	"0 # comment\n1", "rem 1", "remapx 1 1 1", "8", "0-8", "+1", "1e3", "0.5", "\u00a00",
}

// FuzzLayoutWrite writes arbitrary bytes in arbitrary chunks to `layout`
// through a real mount, then checks the contract: either every write and the
// close succeeded and `layout` reads back the canonical text of what
// layout.Parse makes of the input (and `view` shows those pages), or a write
// or the close failed with EINVAL and layout, view and generation are as
// they were, with status naming the error. After every input the daemon
// still answers, no handler panicked, the process heap stays bounded
// (--max-view-pages bounds what an input may cost) and no input hangs.
//
// chunks says how the text is cut into write(2) calls: chunk i has
// chunks[i%len(chunks)]+1 bytes (no chunks: one write); past 64 writes the
// rest goes in one.
//
// Then, whatever the input did, a store through a writable shared mapping of view (one that
// lives across inputs), flushed with msync, must show through read(2) of data and at every
// alias in the mapping, and a write(2) of data at once in the mapping (fuzzViewMapper.check): the
// layout in force, whichever it is, takes writes through mappings too, and nothing an input
// does can hang them.
func FuzzLayoutWrite(f *testing.F) {
	testenv.RequireFUSE(f)
	for i, s := range fuzzSeeds {
		f.Add([]byte(s), []byte{})
		f.Add([]byte(s), []byte{byte(i % 5), 2, 0})
	}
	f.Cleanup(fuzzMount.close)
	if fl := flag.Lookup("test.fuzzworker"); fl != nil && fl.Value.String() == "true" {
		// The coordinator sends a worker's stderr nowhere: keep it, so that
		// a crash of the worker (and of the daemon inside it) can be read.
		name := filepath.Join(os.TempDir(), fmt.Sprintf("nlfs-fuzz-worker-%d.log", os.Getpid()))
		if w, err := os.Create(name); err == nil {
			unix.Dup2(int(w.Fd()), 2)
			f.Cleanup(func() { os.Remove(name) }) // a clean exit leaves nothing to read
		}
	}
	f.Fuzz(func(t *testing.T, text, chunks []byte) {
		mnt, err := fuzzMount.get(engine.Options{Source: bytes.NewReader(letters(fuzzDataPages)), MaxViewPages: fuzzMaxView})
		if err != nil {
			t.Fatalf("mount: %v", err)
		}
		watchdog := time.AfterFunc(fuzzInputTimeout, func() {
			// A fuzz worker's stderr goes nowhere: leave the stacks in a
			// file, then crash so that the coordinator records the input.
			msg := fmt.Sprintf("FuzzLayoutWrite: input %q in chunk sizes %v hung for %v", text, chunks, fuzzInputTimeout)
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			// The kernel's side too: where the daemon's threads and the mapper client
			// wait (root may read them).
			buf = append(buf, fuzzKernelStacks("daemon", os.Getpid())...)
			if c := fuzzMount.mapper.c; c != nil && c.cmd.Process != nil {
				buf = append(buf, fuzzKernelStacks("mapper client", c.cmd.Process.Pid)...)
			}
			name := filepath.Join(os.TempDir(), fmt.Sprintf("nlfs-fuzz-hang-%d.txt", os.Getpid()))
			os.WriteFile(name, append([]byte(msg+"\n\n"), buf...), 0o644)
			// A process that dies with files open on its own mount hangs
			// in exit (close sends FLUSH to the server that is gone):
			// abort the connection first, so the worker can die.
			fuzzMount.abort()
			panic(msg + "; stacks in " + name)
		})
		defer watchdog.Stop()
		st := checkLayoutWrite(t, mnt, text, chunks)
		if err := fuzzMount.mapper.check(t, mnt, st, fuzzInputs.Load()); err != nil {
			t.Fatal(err)
		}
		if p := fuzzMount.panicked.Load(); p != nil {
			t.Fatalf("a FUSE handler panicked: %s", *p)
		}
		if fuzzInputs.Add(1)%64 != 1 { // ReadMemStats stops the world: not every time
			return
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if ms.HeapInuse > fuzzHeapLimit {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > fuzzHeapLimit {
				t.Fatalf("heap in use %d MiB after an input of %d bytes: over %d MiB", ms.HeapInuse>>20, len(text), fuzzHeapLimit>>20)
			}
		}
	})
}

// mountState is what a layout write may change.
type mountState struct {
	layout, view, generation, lastError string
}

func readState(t *testing.T, mnt string) mountState {
	t.Helper()
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(mnt, name))
		if err != nil {
			t.Fatalf("read %s: %v (the daemon no longer answers?)", name, err)
		}
		return string(b)
	}
	st := mountState{layout: read("layout"), view: pageLetters([]byte(read("view")))}
	for _, line := range strings.Split(read("status"), "\n") {
		if v, ok := strings.CutPrefix(line, "generation: "); ok {
			st.generation = v
		}
		if v, ok := strings.CutPrefix(line, "last_error: "); ok {
			st.lastError = v
		}
	}
	return st
}

// writeLayout writes text to mnt/layout as the shell's `>` does (O_TRUNC),
// in the chunks that chunks says, and returns the first error of the writes
// and the close.
func writeLayout(mnt string, text, chunks []byte) error {
	f, err := os.OpenFile(filepath.Join(mnt, "layout"), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	var werr error
	for i := 0; len(text) > 0 && werr == nil; i++ {
		n := len(text)
		if len(chunks) > 0 && i < 64 {
			n = min(n, int(chunks[i%len(chunks)])+1)
		}
		_, werr = f.Write(text[:n])
		text = text[n:]
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	return werr
}

// expectedState is what the mount must show after a successful write of l.
func expectedState(l *layout.Layout) (layoutText, view string) {
	runs := l.Runs
	if l.Identity {
		runs = run.Identity(fuzzDataPages)
	}
	var b strings.Builder
	for _, p := range run.Pages(runs) {
		b.WriteByte(byte('A' + p))
	}
	if l.Identity {
		return string(layout.IdentityText(fuzzDataPages)), b.String()
	}
	return layout.Canonical(runs), b.String()
}

// checkLayoutWrite writes text to layout in chunks and checks the outcome (FuzzLayoutWrite);
// it returns the mount's state after it.
func checkLayoutWrite(t *testing.T, mnt string, text, chunks []byte) mountState {
	before := readState(t, mnt)
	werr := writeLayout(mnt, text, chunks)
	want, perr := layout.Parse(text, layout.Limits{DataPages: fuzzDataPages, MaxViewPages: fuzzMaxView})
	if perr != nil {
		if !errors.Is(werr, syscall.EINVAL) {
			t.Fatalf("layout %q is invalid (%v) but writing it gave %v, want EINVAL", text, perr, werr)
		}
		after := readState(t, mnt)
		wantErr := mountState{before.layout, before.view, before.generation, "layout: " + perr.Error()}
		if after != wantErr {
			t.Fatalf("after invalid layout %q:\n got %+v\nwant %+v", text, after, wantErr)
		}
		return after
	}
	if werr != nil {
		t.Fatalf("layout %q is valid but writing it failed: %v", text, werr)
	}
	after := readState(t, mnt)
	if len(text) == 0 {
		// `: > layout` applies the identity when the file is released,
		// which the kernel sends after close(2) has returned.
		// Wait for the generation to move, then read the state whole.
		for deadline := time.Now().Add(5 * time.Second); after.generation == before.generation && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
			after = readState(t, mnt)
		}
		// The generation moves before the release is over: wait for it, so that the drop
		// of the old layout's pages the layout sends cannot come in the middle of what the
		// next step stores through a mapping.
		fuzzMount.settle(t)
		after = readState(t, mnt)
	}
	wantLayout, wantView := expectedState(want)
	wantOK := mountState{wantLayout, wantView, fmt.Sprint(atoi(t, before.generation) + 1), "none"}
	if after != wantOK {
		t.Fatalf("after valid layout %q:\n got %+v\nwant %+v", text, after, wantOK)
	}
	return after
}

// settle returns once no request of the mount is waiting for the daemon (the kernel's count
// of the connection, in fusectl) and the daemon has sent every notification queued so far (an
// fsync waits for them): for a mount nothing else uses, that is once the asynchronous
// RELEASE of a file closed before is over, with all it did.
func (s *sharedMount) settle(t *testing.T) {
	waiting, err := fusectl.Path(s.conn, "waiting")
	if err != nil {
		t.Fatalf("settle: %v", err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; {
		b, err := os.ReadFile(waiting)
		if err != nil {
			t.Fatalf("settle: %v", err)
		}
		if strings.TrimSpace(string(b)) == "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("settle: %s requests still waiting for the daemon after 5 s", strings.TrimSpace(string(b)))
		}
		time.Sleep(100 * time.Microsecond)
	}
	if err := stressFsync(filepath.Join(s.mnt, "data")); err != nil {
		t.Fatalf("settle: fsync data: %v", err)
	}
}

// fuzzKernelStacks returns the kernel stacks of process pid's threads that are waiting in the
// kernel, from /proc (what a hang on the mount looks like from below).
func fuzzKernelStacks(who string, pid int) []byte {
	out := fmt.Appendf(nil, "\n\nkernel stacks of the %s (pid %d):\n", who, pid)
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", pid))
	for _, task := range tasks {
		if stack, err := os.ReadFile(task + "/stack"); err == nil && len(stack) > 0 {
			out = fmt.Appendf(out, "%s:\n%s", filepath.Base(task), stack)
		}
	}
	return out
}

// fuzzViewMapper is a "mapper" client of view that lives across inputs and their layouts: c,
// started on first use, and the size of its mapping in pages.
type fuzzViewMapper struct {
	c      *mapperClient
	mapped int
}

// check stores through the mapping of view, mapped anew only when the view's size changed:
// input n fills view page n mod the view's pages with a letter that data never holds, and
// msyncs. read(2) of data must then show it in the store page that view page shows, and the
// mapping itself at every view page that shows that store page (aliases too). Then a
// write(2) to data puts the page back, which the mapping must show at once, so that every
// input starts from the same data (letters(fuzzDataPages)). st is the mount's state before.
// It returns what did not hold; each mapper command runs under the mapper's watchdog (and
// in FuzzLayoutWrite the input under the target's).
func (m *fuzzViewMapper) check(t *testing.T, mnt string, st mountState, n int64) error {
	if m.c == nil {
		c, err := launchMapper(t, mnt, "view")
		if err != nil {
			t.Fatalf("start a mapper of view: %v", err)
		}
		m.c, m.mapped = c, len(st.view)
	}
	c := m.c
	c.t = t
	if m.mapped != len(st.view) {
		c.ok("munmap", "map")
		m.mapped = len(st.view)
	}
	v := int(n % int64(len(st.view)))
	shown := st.view[v] // the store page it shows: shown-'A'
	mark := byte('a' + n%26)
	marked := func(s string) string { return strings.ReplaceAll(s, string(shown), string(mark)) }
	c.ok(fmt.Sprintf("poke %d %c", v, mark), "msync")
	data, err := os.ReadFile(filepath.Join(mnt, "data"))
	if err != nil {
		return fmt.Errorf("read data: %v (the daemon no longer answers?)", err)
	}
	if got, want := pageLetters(data), marked(pageLetters(letters(fuzzDataPages))); got != want {
		return fmt.Errorf("after a store of %q through view page %d of a mapping and msync (layout %q): data %q, want %q", mark, v, st.layout, got, want)
	}
	if got := c.do("show"); got != marked(st.view) {
		return fmt.Errorf("after a store of %q through view page %d of a mapping and msync (layout %q): the mapping shows %q, want %q", mark, v, st.layout, got, marked(st.view))
	}
	f, err := os.OpenFile(filepath.Join(mnt, "data"), os.O_WRONLY, 0)
	if err == nil {
		page := int64(shown - 'A')
		_, err = f.WriteAt(letters(fuzzDataPages)[page*int64(pageSize):(page+1)*int64(pageSize)], page*int64(pageSize))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("write data back: %v", err)
	}
	if got := c.do("show"); got != st.view {
		return fmt.Errorf("after data page %c was written back by write(2) (layout %q): the mapping of view shows %q, want %q", shown, st.layout, got, st.view)
	}
	return nil
}

// TestFuzzMmapCheckCatchesLoss proves FuzzLayoutWrite's mapping check by planting the loss
// it exists for: on a mount like the fuzz target's, under an aliasing layout, it passes; with
// the engine dropping every write (dropAcknowledgedWrites: the kernel's writeback of
// the stored page is acknowledged and never stored), it must report that data does not show
// the store.
func TestFuzzMmapCheckCatchesLoss(t *testing.T) {
	mnt, _ := testMount(t, engine.Options{Source: bytes.NewReader(letters(fuzzDataPages)), MaxViewPages: fuzzMaxView})
	if err := writeLayout(mnt, []byte("0-3 0-3 7"), nil); err != nil {
		t.Fatal(err)
	}
	var m fuzzViewMapper
	t.Cleanup(func() {
		if m.c != nil {
			m.c.quit()
		}
	})
	for n := range int64(3) { // view pages 0, 1, 2, each an alias of view page 4, 5, 6
		if err := m.check(t, mnt, readState(t, mnt), n); err != nil {
			t.Fatalf("with nothing planted: %v", err)
		}
	}
	restore := dropAcknowledgedWrites(1)
	err := m.check(t, mnt, readState(t, mnt), 5)
	restore()
	if err == nil || !strings.Contains(err.Error(), "data") {
		t.Fatalf("with every write dropped, the check says %v; want data not showing the store", err)
	}
	t.Logf("caught: %v", err)
}

func atoi(t *testing.T, s string) int64 {
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return n
}
