package fs

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
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
// pages as letters (pageLetters), until stdin closes.
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

func startMmapClient(t *testing.T, path string) *mmapClient {
	t.Helper()
	cmd := exec.Command(os.Args[0], path)
	cmd.Env = append(os.Environ(), clientEnv+"=mmap")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &mmapClient{in: in, out: bufio.NewReader(out), cmd: cmd}
	t.Cleanup(func() {
		c.in.Close()
		c.cmd.Wait()
	})
	return c
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
