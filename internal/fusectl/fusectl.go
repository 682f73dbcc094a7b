// Package fusectl reaches the kernel's FUSE control file system, where each FUSE connection
// has a directory named by its number (the minor of the mount's device): writing its abort
// file fails every request in flight and to come, which frees a client stuck in the kernel on
// a daemon that does not answer, and its waiting file counts the requests not yet answered.
package fusectl

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Dir is where fusectl is mounted.
const Dir = "/sys/fs/fuse/connections"

// Path is the control file name (abort, waiting, …) of connection conn. fusectl is mounted on
// Dir first if it is not (the directory is empty until it is).
func Path(conn uint32, name string) (string, error) {
	if entries, err := os.ReadDir(Dir); err == nil && len(entries) == 0 {
		if err := unix.Mount("fusectl", Dir, "fusectl", 0, ""); err != nil {
			return "", fmt.Errorf("mount fusectl on %s: %w", Dir, err)
		}
	}
	return Dir + "/" + strconv.FormatUint(uint64(conn), 10) + "/" + name, nil
}

// Abort aborts connection conn. A connection that is gone already (its daemon died and its
// mount is detached) is not an error: there is nothing left to free.
func Abort(conn uint32) error {
	abort, err := Path(conn, "abort")
	if err != nil {
		return err
	}
	err = os.WriteFile(abort, []byte("1"), 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}
