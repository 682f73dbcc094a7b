package fs

import (
	"errors"
	"syscall"

	"github.com/nlfs/nlfs/layout"
)

// toErrno is the one place where an error becomes the errno a FUSE client sees. A bad layout
// is EINVAL; an errno the error wraps (from the kernel, or one the engine chose for a
// refusal, such as EROFS for a read-only store) passes through; the rest is EIO (and is
// reported in status by the engine).
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
