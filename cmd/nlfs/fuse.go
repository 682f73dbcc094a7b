package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/nlfs/nlfs/engine"
	nlfsfs "github.com/nlfs/nlfs/fs"
)

// What a mount needs from the machine, and what nlfs says when it is not
// there. On a fresh Debian machine /dev/fuse is 0600 until udev's rule makes
// it 0666, and fusermount3 (package fuse3) may be missing; go-fuse would then
// report only "fusermount exited with code 256".

const devFuse = "/dev/fuse"

// checkFUSE checks that this user can mount: /dev/fuse exists and opens,
// and a non-root user has fusermount3.
func checkFUSE() error {
	fi, err := os.Stat(devFuse)
	if err != nil {
		return mountErrorf("no %s on this machine, so nothing can be mounted (in a container: --device /dev/fuse --cap-add SYS_ADMIN); nlfs apply works without it", devFuse)
	}
	f, err := os.OpenFile(devFuse, os.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		return devFuseError(fi, err)
	}
	f.Close()
	if os.Geteuid() != 0 && fusermount() == "" {
		return mountErrorf("mounting as a non-root user needs fusermount3, and there is none in PATH: install the fuse3 package (apt-get install fuse3), or run as root")
	}
	return nil
}

// devFuseError says why /dev/fuse did not open, and what to do.
func devFuseError(fi fs.FileInfo, err error) error {
	err = unwrapPath(err)
	if !errors.Is(err, fs.ErrPermission) {
		return mountErrorf("cannot open %s: %v", devFuse, err)
	}
	if os.Geteuid() == 0 {
		return mountErrorf("cannot open %s: %v, even as root (in a container: --device /dev/fuse --cap-add SYS_ADMIN)", devFuse, err)
	}
	owner := "uid " + strconv.Itoa(int(fi.Sys().(*syscall.Stat_t).Uid))
	if u, err := user.LookupId(strconv.Itoa(int(fi.Sys().(*syscall.Stat_t).Uid))); err == nil {
		owner = u.Username
	}
	return mountErrorf("cannot open %s: %v: it is mode %04o (owner %s), and users need 0666, which udev's rule for FUSE sets; until udev has run, root can fix it: chmod 0666 %s (or mount as root)",
		devFuse, err, fi.Mode().Perm(), owner, devFuse)
}

// mountFUSE mounts e at mnt. A non-root mount goes through fusermount3,
// which tells why it failed only on its standard error: that is captured
// while mounting and becomes the error's message (on success it is passed
// on, with anything else said meanwhile).
func mountFUSE(mnt string, e *engine.Engine, mo nlfsfs.MountOptions) (*fuse.Server, *nlfsfs.Root, error) {
	var srv *fuse.Server
	var root *nlfsfs.Root
	mount := func() (err error) {
		srv, root, err = nlfsfs.Mount(mnt, e, mo)
		return err
	}
	if os.Geteuid() == 0 { // mounted directly, no fusermount3
		if err := mount(); err != nil {
			return nil, nil, mountError(mnt, "", err)
		}
		return srv, root, nil
	}
	said, err := captureStderr(mount)
	if err != nil {
		return nil, nil, mountError(mnt, said, err)
	}
	os.Stderr.WriteString(said)
	return srv, root, nil
}

// mountError makes the one line for a failed mount: fusermount3's own words
// when it spoke, with what to do when that is known.
func mountError(mnt, said string, err error) error {
	said = strings.Join(strings.Fields(strings.ReplaceAll(said, "\n", "; ")), " ")
	if said == "" {
		if cause := errors.Unwrap(err); cause != nil { // fs.Mount's own "mount DIR: " goes
			err = cause
		}
		return mountErrorf("mount %s: %v", quote(mnt), unwrapPath(err))
	}
	hint := ""
	switch {
	case strings.Contains(said, devFuse):
		hint = fmt.Sprintf("; users need %s mode 0666, which udev's rule for FUSE sets (until udev has run, root can: chmod 0666 %s)", devFuse, devFuse)
	case strings.Contains(said, "user_allow_other"):
		hint = "; root must add the line user_allow_other to /etc/fuse.conf"
	case strings.Contains(said, "write access"):
		hint = "; mount on a directory you own"
	case strings.Contains(said, "Operation not permitted"):
		hint = "; fusermount3 must be setuid root (ls -l " + quote(fusermount()) + "), and in a container needs --cap-add SYS_ADMIN"
	}
	return mountErrorf("mount %s: %s%s", quote(mnt), strings.TrimSuffix(said, ";"), hint)
}

// captureStderr runs f with file descriptor 2 redirected to a pipe and
// returns what was written there: fusermount3, started by go-fuse, inherits
// descriptor 2 and has no other way to say why it failed.
func captureStderr(f func() error) (string, error) {
	saved, err := unix.FcntlInt(2, unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return "", f()
	}
	defer unix.Close(saved)
	r, w, err := os.Pipe()
	if err != nil {
		return "", f()
	}
	defer r.Close()
	if err := unix.Dup3(int(w.Fd()), 2, 0); err != nil {
		w.Close()
		return "", f()
	}
	w.Close()
	said := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(r)
		said <- string(b)
	}()
	ferr := f()
	unix.Dup3(saved, 2, 0) // the pipe's last writer goes: the reader sees its end
	return <-said, ferr
}
