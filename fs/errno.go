package fs

import (
	"errors"
	"syscall"

	"github.com/nlfs/nlfs/layout"
)

// toErrno is the one place where an error becomes the errno a FUSE client
// sees. A bad layout is EINVAL; an errno from the kernel passes through; the
// rest is EIO (and is reported in status by the caller).
func toErrno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var lerr *layout.Error
	if errors.As(err, &lerr) {
		return syscall.EINVAL
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return syscall.EIO
}

// fail records err for status under what and returns its errno.
func (r *Root) fail(what string, err error) syscall.Errno {
	r.noteError(what, err)
	return toErrno(err)
}

var errViewSize = errors.New("the view's size follows the layout; write a layout to change it")
