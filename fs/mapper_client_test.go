package fs

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// runMapper is the "mapper" client: it opens path read-write, maps it shared and writable,
// says "ready", and answers commands on stdin, one line each, with one line: "ok",
// "err MESSAGE", or what was asked for.
//
//	show             the mapped pages as letters (pageLetters)
//	poke P L         fill mapped page P with letter L (a store into the mapping)
//	put OFF TEXT     store TEXT at byte OFF of the mapping
//	msync            msync(MS_SYNC) the whole mapping
//	munmap           unmap it (without msync)
//	map              map the file again, at its size now (after munmap)
//	close            close the descriptor (the mapping stays)
//	fork P L         a child process, sharing the mapping, fills page P with L and exits
//	touch P          read the first byte of mapped page P (faulting it in)
//	stamp P TAG      fill mapped page P with the self-describing page of the 64-bit TAG
//	                 (stressPageOf: what the stress test writes), in one store of the page
//
// A store into a page past the end of the file (SIGBUS) answers "err sigbus".
func runMapper(path string) int {
	debug.SetPanicOnFault(true) // a SIGBUS on the mapping becomes a recoverable panic
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var mem []byte
	mapIt := func() error {
		fi, err := os.Stat(path)
		if err != nil {
			return err
		}
		mem, err = unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		return err
	}
	if err := mapIt(); err != nil {
		fmt.Fprintln(os.Stderr, "mmap:", err)
		return 1
	}
	in := bufio.NewScanner(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(out, "ready") // the file is open and mapped
	out.Flush()
	for in.Scan() {
		fields := strings.Fields(in.Text())
		if len(fields) == 0 {
			continue
		}
		fmt.Fprintln(out, mapperDo(fields, &mem, f, mapIt))
		out.Flush()
	}
	return 0
}

func mapperDo(fields []string, mem *[]byte, f *os.File, mapIt func() error) (reply string) {
	defer func() {
		if p := recover(); p != nil {
			reply = "err sigbus"
		}
	}()
	num := func(i int) int {
		n, _ := strconv.Atoi(fields[i])
		return n
	}
	result := func(err error) string {
		if err != nil {
			return "err " + err.Error()
		}
		return "ok"
	}
	m := *mem
	switch fields[0] {
	case "show":
		return pageLetters(m)
	case "poke":
		p := m[num(1)*pageSize : (num(1)+1)*pageSize]
		for i := range p {
			p[i] = fields[2][0]
		}
		return "ok"
	case "put":
		copy(m[num(1):], fields[2])
		return "ok"
	case "msync":
		return result(unix.Msync(m, unix.MS_SYNC))
	case "munmap":
		err := unix.Munmap(m)
		*mem = nil
		return result(err)
	case "map":
		return result(mapIt())
	case "close":
		return result(f.Close())
	case "fork":
		return result(forkPoke(m, num(1), fields[2][0]))
	case "touch":
		mapperTouched = m[num(1)*pageSize] // a load the compiler cannot drop
		return "ok"
	case "stamp":
		tag, err := strconv.ParseUint(fields[2], 10, 64)
		if err != nil {
			return "err " + err.Error()
		}
		copy(m[num(1)*pageSize:(num(1)+1)*pageSize], stressPageOf(tag))
		return "ok"
	}
	return "err unknown command " + fields[0]
}

// mapperTouched keeps the load of "touch".
var mapperTouched byte

// forkPoke forks a child that shares the mapping m, fills page p of it with c, and exits;
// it returns once the child is gone. The child runs straight-line code only: no allocation,
// no runtime call, which is what a forked Go process may do.
func forkPoke(m []byte, p int, c byte) error {
	page := m[p*pageSize : (p+1)*pageSize]
	pid, _, errno := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
	if errno != 0 {
		return errno
	}
	if pid == 0 {
		for i := range page {
			page[i] = c
		}
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0)
	}
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(int(pid), &ws, 0, nil); err != nil {
		return err
	}
	if !ws.Exited() || ws.ExitStatus() != 0 {
		return fmt.Errorf("child: %v", ws)
	}
	return nil
}

// mapperClient is a running "mapper" client, each of whose commands runs under a watchdog.
type mapperClient struct {
	t   *testing.T
	mnt string
	in  io.WriteCloser
	out *bufio.Reader
	cmd *exec.Cmd
}

// mapperTimeout is how long one command may take before it counts as a hang.
const mapperTimeout = 20 * time.Second

func startMapper(t *testing.T, mnt, name string) *mapperClient {
	t.Helper()
	c, err := launchMapper(t, mnt, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.quit)
	return c
}

// do runs one command and returns its reply.
func (c *mapperClient) do(command string) string {
	c.t.Helper()
	stop := watchdog(c.t, c.mnt, mapperTimeout, "mapper command "+strconv.Quote(command))
	defer stop()
	if _, err := io.WriteString(c.in, command+"\n"); err != nil {
		c.t.Fatalf("mapper %q: %v", command, err)
	}
	line, err := c.out.ReadString('\n')
	if err != nil {
		c.t.Fatalf("mapper %q: the client died: %v", command, err)
	}
	return strings.TrimSpace(line)
}

// ok runs commands that must each answer "ok".
func (c *mapperClient) ok(commands ...string) {
	c.t.Helper()
	for _, command := range commands {
		if got := c.do(command); got != "ok" {
			c.t.Fatalf("mapper %q: %s", command, got)
		}
	}
}

// quit ends the client (closing its mapping and descriptor: more writeback), under a
// watchdog.
func (c *mapperClient) quit() {
	if c.in == nil {
		return
	}
	stop := watchdog(c.t, c.mnt, mapperTimeout, "a mapper's exit")
	defer stop()
	c.in.Close()
	c.in = nil
	if err := c.cmd.Wait(); err != nil {
		c.t.Errorf("mapper exit: %v", err)
	}
}

// try runs one command, under the same watchdog as do, and returns its reply, or an error if
// the client died: for goroutines other than the test's, which may not call Fatal.
func (c *mapperClient) try(command string) (string, error) {
	stop := watchdog(c.t, c.mnt, mapperTimeout, "mapper command "+strconv.Quote(command))
	defer stop()
	if _, err := io.WriteString(c.in, command+"\n"); err != nil {
		return "", fmt.Errorf("mapper %q: %v", command, err)
	}
	line, err := c.out.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("mapper %q: the client died: %v", command, err)
	}
	return strings.TrimSpace(line), nil
}

// launchMapper starts a "mapper" client of mnt/name, as startMapper does, but leaves ending
// it to the caller (quit): for a client that outlives one test, such as the fuzz target's,
// which serves every input of a process. Its commands fail c.t, which the caller may set per
// test.
func launchMapper(t *testing.T, mnt, name string) (*mapperClient, error) {
	stop := watchdog(t, mnt, mapperTimeout, "starting a mapper of "+name+", which opens and maps it")
	defer stop()
	in, out, cmd, err := spawnClient("mapper", mnt+"/"+name)
	if err != nil {
		return nil, err
	}
	c := &mapperClient{t: t, mnt: mnt, in: in, out: out, cmd: cmd}
	if line, err := c.out.ReadString('\n'); strings.TrimSpace(line) != "ready" {
		in.Close()
		cmd.Wait()
		return nil, fmt.Errorf("mapper of %s did not start: %q, %v", name, line, err)
	}
	return c, nil
}
