package main

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// markCloseOnExec sets close-on-exec on every descriptor of the process
// above standard error, so that none leaks into a child: not a descriptor
// the user's shell left open when it started nlfs (the daemon would keep it
// as long as the mount lives: a pipe a script waits on, say), and not
// /dev/fuse, which go-fuse opens without O_CLOEXEC when it mounts directly
// (as root): a child holding it would keep the connection alive after the
// daemon died, and its requests would hang instead of failing.
func markCloseOnExec() {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			unix.CloseOnExec(fd)
		}
	}
}
