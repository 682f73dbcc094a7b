package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/nlfs/nlfs/engine"
	"github.com/nlfs/nlfs/layout"
)

// Exit codes, in one place. Scripts may rely on them; the README and the man
// page list them (exitCodes).
const (
	exitOK         = 0
	exitFailure    = 1  // the operation failed (I/O, kernel)
	exitUsage      = 2  // bad command line
	exitMountpoint = 10 // the mountpoint cannot be used
	exitMount      = 11 // the kernel refused the mount, or FUSE is missing
	exitLayout     = 12 // the layout is invalid
	exitStore      = 13 // the store cannot be used
	exitDaemon     = 14 // the daemon does not answer
)

// exitCodes is the table the README and the man page show.
var exitCodes = []struct {
	code    int
	meaning string
}{
	{exitFailure, "the operation failed (I/O, kernel)"},
	{exitUsage, "bad command line"},
	{exitMountpoint, "the mountpoint cannot be used (missing, not empty, already mounted, busy)"},
	{exitMount, "the mount itself failed (no `/dev/fuse`, no `fusermount3`, kernel refused)"},
	{exitLayout, "the layout is invalid"},
	{exitStore, "the store cannot be used (held by another daemon, exists while --pages or --source asks for a new one)"},
	{exitDaemon, "the mount's daemon does not answer (stopped, or stuck in the kernel): `nlfs umount --force` ends it"},
}

// exitError is an error with the exit code it ends nlfs with.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErrorf(format string, a ...any) error {
	return &exitError{exitUsage, fmt.Errorf(format, a...)}
}

func mountpointErrorf(format string, a ...any) error {
	return &exitError{exitMountpoint, fmt.Errorf(format, a...)}
}

func mountErrorf(format string, a ...any) error {
	return &exitError{exitMount, fmt.Errorf(format, a...)}
}

func storeErrorf(format string, a ...any) error {
	return &exitError{exitStore, fmt.Errorf(format, a...)}
}

// exitCode is the one mapping from an error to the code nlfs exits with.
func exitCode(err error) int {
	var ee *exitError
	var le *layout.Error
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &le):
		return exitLayout
	case errors.Is(err, engine.ErrStoreInUse):
		return exitStore
	}
	return exitFailure
}

// exit prints err as one line and ends the process with its code.
func exit(err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "nlfs: %v\n", err)
	}
	os.Exit(exitCode(err))
}
