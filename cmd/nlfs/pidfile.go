package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/nlfs/nlfs/internal/procstat"
)

// A daemon is found through its pid file, never by guessing from command
// lines: once its mount is ready the daemon writes "PID STARTTIME" to a file
// in the runtime directory named after the mountpoint, and removes it when it
// exits. A pid found there counts only if that process is still the one that
// wrote it (same start time, so a reused pid is not taken for it) and the
// mountpoint is still an nlfs mount.

// pidDir is where pid files live: /run/nlfs for root, else the user's
// runtime directory (XDG_RUNTIME_DIR), else a directory of the user's own in
// the temporary directory.
func pidDir() string {
	switch uid := os.Geteuid(); {
	case uid == 0:
		return "/run/nlfs"
	case os.Getenv("XDG_RUNTIME_DIR") != "":
		return filepath.Join(os.Getenv("XDG_RUNTIME_DIR"), "nlfs")
	default:
		return filepath.Join(os.TempDir(), fmt.Sprintf("nlfs-%d", uid))
	}
}

// pidFile is the pid file of the daemon serving mnt.
func pidFile(mnt string) string { return filepath.Join(pidDir(), escapePath(mnt)+".pid") }

// escapePath turns an absolute path into one file name, as systemd-escape
// --path does: slashes become '-', and '-', '\' and any byte other than a
// letter, digit, '_' or an inner '.' become \xNN.
func escapePath(p string) string {
	p = strings.Trim(filepath.Clean(p), "/")
	if p == "" {
		return "-"
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '/':
			b.WriteByte('-')
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '.' && i > 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, `\x%02x`, c)
		}
	}
	return b.String()
}

// writePidFile records this process as the daemon serving mnt.
func writePidFile(mnt string) error {
	dir := pidDir()
	fail := func(err error) error { return fmt.Errorf("no pid file in %s: %v", quote(dir), unwrapPath(err)) }
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fail(err)
	}
	// The directory must be this user's own: in a shared temporary
	// directory another user could have made it first.
	var st syscall.Stat_t
	if err := syscall.Lstat(dir, &st); err != nil {
		return fail(err)
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFDIR || int(st.Uid) != os.Geteuid() {
		return fail(fmt.Errorf("not a directory of user %d", os.Geteuid()))
	}
	start, err := startTime(os.Getpid())
	if err != nil {
		return fail(err)
	}
	name := pidFile(mnt)
	tmp := name + ".tmp" + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(tmp, fmt.Appendf(nil, "%d %d\n", os.Getpid(), start), 0o644); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, name); err != nil {
		os.Remove(tmp)
		return fail(err)
	}
	return nil
}

// removePidFile removes mnt's pid file if it is still this process's: after
// a lazy unmount a new daemon may serve mnt while this one still serves the
// detached mount.
func removePidFile(mnt string) {
	if pid, _ := readPidFile(mnt); pid == os.Getpid() {
		os.Remove(pidFile(mnt))
	}
}

// readPidFile returns the pid in mnt's pid file if that process is still the
// one that wrote it; 0 if there is none.
func readPidFile(mnt string) (int, error) {
	b, err := os.ReadFile(pidFile(mnt))
	if err != nil {
		return 0, err
	}
	var pid int
	var start uint64
	if _, err := fmt.Sscanf(string(b), "%d %d\n", &pid, &start); err != nil || pid <= 0 {
		return 0, fmt.Errorf("pid file %s: bad content %q", quote(pidFile(mnt)), b)
	}
	if now, err := startTime(pid); err != nil || now != start {
		return 0, nil // that daemon is gone (and its pid may be another process's now)
	}
	return pid, nil
}

// findDaemon returns the pid of the live nlfs daemon serving mnt, 0 if none.
func findDaemon(mnt string) int {
	if m, ok := mountAt(mnt); !ok || m.FSType != nlfsType {
		return 0
	}
	pid, _ := readPidFile(mnt)
	return pid
}

// startTime returns when process pid started, in clock ticks since boot
// (field 22 of /proc/PID/stat); a zombie counts as gone.
func startTime(pid int) (uint64, error) {
	fields := procstat.Fields(pid)
	if fields == nil {
		return 0, fmt.Errorf("process %d: %w", pid, os.ErrNotExist)
	}
	if len(fields) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(fields))
	}
	if fields[0] == "Z" {
		return 0, errors.New("zombie")
	}
	return strconv.ParseUint(fields[19], 10, 64)
}
