package fs

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/nlfs/nlfs/remapper"
)

var pageSize = int(remapper.PageSize())

// clientEnv names the client a re-executed test binary runs.
const clientEnv = "NLFS_TEST_CLIENT"

// runClient is the body of a client process. "mmap FILE" maps FILE shared
// and read-only, then answers each line "show" on stdin with the mapped
// pages as letters (pageLetters), until stdin closes. "tags" reads page
// tags (see below).
func runClient(name string, args []string) int {
	switch name {
	case "mmap":
		f, err := os.Open(args[0])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fi, err := f.Stat()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		mem, err := syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
		if err != nil {
			fmt.Fprintln(os.Stderr, "mmap:", err)
			return 1
		}
		in := bufio.NewScanner(os.Stdin)
		for in.Scan() {
			if in.Text() == "show" {
				fmt.Println(pageLetters(mem))
			}
		}
		return 0
	case "tags":
		// "tags FILE all" prints the tag of every page of FILE, read in
		// 1 MiB pieces ("tags FILE head K": of its first K pages);
		// "tags FILE P..." the tags of pages P (one pread each). A page's
		// tag is its first 8 bytes, little-endian.
		f, err := os.Open(args[0])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer f.Close()
		out := bufio.NewWriter(os.Stdout)
		defer out.Flush()
		if len(args) >= 2 && (args[1] == "all" || args[1] == "head") {
			var src io.Reader = f
			if args[1] == "head" {
				k, _ := strconv.ParseInt(args[2], 10, 64)
				src = io.LimitReader(f, k*int64(pageSize))
			}
			buf := make([]byte, 1<<20)
			for {
				n, err := io.ReadFull(src, buf)
				for off := 0; off+8 <= n; off += pageSize {
					fmt.Fprintln(out, binary.LittleEndian.Uint64(buf[off:]))
				}
				if err == io.EOF || err == io.ErrUnexpectedEOF {
					return 0
				}
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					return 1
				}
			}
		}
		buf := make([]byte, 8)
		for _, a := range args[1:] {
			p, err := strconv.ParseInt(a, 10, 64)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 2
			}
			if _, err := f.ReadAt(buf, p*int64(pageSize)); err != nil {
				fmt.Fprintln(os.Stderr, "page", p, err)
				return 1
			}
			fmt.Fprintln(out, binary.LittleEndian.Uint64(buf))
		}
		return 0
	case "mapper":
		return runMapper(args[0])
	case "calls":
		return runCalls(args)
	}
	fmt.Fprintf(os.Stderr, "unknown client %q\n", name)
	return 2
}

// mmapClient is a running "mmap" client process.
type mmapClient struct {
	in  io.WriteCloser
	out *bufio.Reader
	cmd *exec.Cmd
}

// spawnClient starts the test binary as the client kind, on args, talking over its stdin and
// stdout.
func spawnClient(kind string, args ...string) (io.WriteCloser, *bufio.Reader, *exec.Cmd, error) {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), clientEnv+"="+kind)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, nil, err
	}
	return in, bufio.NewReader(out), cmd, nil
}

func startMmapClient(t *testing.T, path string) *mmapClient {
	t.Helper()
	in, out, cmd, err := spawnClient("mmap", path)
	if err != nil {
		t.Fatal(err)
	}
	c := &mmapClient{in: in, out: out, cmd: cmd}
	t.Cleanup(func() {
		c.in.Close()
		c.cmd.Wait()
	})
	return c
}

// pageTags runs a "tags" client on path: the tags of pages, read through
// the mount by another process. pages nil: of every page; or, with
// pages = []int64{-k}, of the first k pages.
func pageTags(t *testing.T, path string, pages []int64) []uint64 {
	t.Helper()
	args := []string{path}
	switch {
	case pages == nil:
		args = append(args, "all")
	case len(pages) == 1 && pages[0] < 0:
		args = append(args, "head", strconv.FormatInt(-pages[0], 10))
	default:
		for _, p := range pages {
			args = append(args, strconv.FormatInt(p, 10))
		}
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), clientEnv+"=tags")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tags client: %v: %s", err, stderr.String())
	}
	var tags []uint64
	for _, f := range strings.Fields(string(out)) {
		v, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		tags = append(tags, v)
	}
	return tags
}

// show returns what the client's mapping holds now.
func (c *mmapClient) show(t *testing.T) string {
	t.Helper()
	if _, err := io.WriteString(c.in, "show\n"); err != nil {
		t.Fatalf("mmap client: %v", err)
	}
	line, err := c.out.ReadString('\n')
	if err != nil {
		t.Fatalf("mmap client died: %v", err)
	}
	return strings.TrimSpace(line)
}
