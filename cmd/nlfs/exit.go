package main

import (
	"errors"
	"fmt"
	"os"
)

// Exit codes, in one place. Scripts may rely on them; README lists them.
const (
	exitOK         = 0
	exitFailure    = 1  // the operation failed (I/O, kernel)
	exitUsage      = 2  // bad command line
	exitMountpoint = 10 // the mountpoint cannot be used
	exitMount      = 11 // the kernel refused the mount, or FUSE is missing
	exitLayout     = 12 // the layout is invalid
)

// exitError carries a one-line message for a person and the exit code.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func usageErrorf(format string, a ...any) error {
	return &exitError{exitUsage, fmt.Sprintf(format, a...)}
}

func mountpointErrorf(format string, a ...any) error {
	return &exitError{exitMountpoint, fmt.Sprintf(format, a...)}
}

func mountErrorf(format string, a ...any) error {
	return &exitError{exitMount, fmt.Sprintf(format, a...)}
}

func layoutErrorf(format string, a ...any) error {
	return &exitError{exitLayout, fmt.Sprintf(format, a...)}
}

// exit prints err as one line and ends the process with its code.
func exit(err error) {
	if err == nil || errors.Is(err, errHelp) {
		os.Exit(exitOK)
	}
	code := exitFailure
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	fmt.Fprintf(os.Stderr, "nlfs: %v\n", err)
	os.Exit(code)
}
