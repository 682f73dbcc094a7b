package fs

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// runCalls is the "calls" client: it makes the system calls its arguments name, one after
// the other on one descriptor, and prints for each "ok" or the errno's name (EINVAL):
//
//	open:PATH:FLAGS   FLAGS from w (O_WRONLY), r, rw, t (O_TRUNC), a (O_APPEND)
//	pwrite:OFF:TEXT   pwrite TEXT at OFF
//	ftruncate:SIZE
//	truncate:PATH:SIZE  truncate(2) by path
//	close
func runCalls(args []string) int {
	fd := -1
	for _, a := range args {
		f := strings.SplitN(a, ":", 3)
		var err error
		switch f[0] {
		case "open":
			flags := 0
			for _, c := range f[2] {
				flags |= map[rune]int{'w': unix.O_WRONLY, 'r': unix.O_RDONLY, 't': unix.O_TRUNC, 'a': unix.O_APPEND}[c]
			}
			if strings.Contains(f[2], "rw") {
				flags = flags&^unix.O_WRONLY | unix.O_RDWR
			}
			fd, err = unix.Open(f[1], flags, 0)
		case "pwrite":
			off, _ := strconv.ParseInt(f[1], 10, 64)
			_, err = unix.Pwrite(fd, []byte(f[2]), off)
		case "ftruncate":
			size, _ := strconv.ParseInt(f[1], 10, 64)
			err = unix.Ftruncate(fd, size)
		case "truncate":
			size, _ := strconv.ParseInt(f[2], 10, 64)
			err = unix.Truncate(f[1], size)
		case "close":
			err = unix.Close(fd)
		default:
			err = fmt.Errorf("unknown call %q", a)
		}
		fmt.Println(errnoName(err))
	}
	return 0
}

func errnoName(err error) string {
	var errno syscall.Errno
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &errno):
		return unix.ErrnoName(errno)
	}
	return err.Error()
}

// calls runs a "calls" client under a watchdog and returns its answers.
func calls(t *testing.T, mnt string, args ...string) []string {
	t.Helper()
	stop := watchdog(t, mnt, shTimeout, "calls "+strings.Join(args, " "))
	defer stop()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), clientEnv+"=calls")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("calls client: %v", err)
	}
	return strings.Fields(string(out))
}
