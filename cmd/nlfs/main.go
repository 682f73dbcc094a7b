// Command nlfs makes Linux nonlinear file mappings something you can mount,
// cat, script and see. See README.md and DESIGN.md.
//
// The package is split by concern: args.go (flag parsing), mount.go (the
// daemon), mountpoint.go (checking, recovering and unmounting mountpoints),
// demo.go, apply.go, layoutcmd.go, and exit.go (exit codes).
package main

import (
	"fmt"
	"io"
	"os"
)

const usage = `nlfs — mount a nonlinear view of a tmpfs store

Usage:
  nlfs demo [NAME]                   run a demo (default tlpi); --list names them
  nlfs mount [flags] MOUNTPOINT      mount; returns once ready (-f stays in the foreground)
  nlfs umount [--lazy] MOUNTPOINT    unmount (also recovers a mount left dead by a killed daemon)
  nlfs apply --layout FILE [--source FILE] [-o OUT]
                                     the same remapping without FUSE: writes the view
  nlfs layout check|fmt|show FILE    validate, canonicalize or draw a layout
  nlfs layout gen NAME ARGS...       generate a layout (nlfs layout gen --help)

Run 'nlfs COMMAND --help' for a command's flags.
`

func main() {
	exit(execute(os.Args[1:], os.Stdout))
}

func execute(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return usageErrorf("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "mount":
		return mountCmd(rest, stdout)
	case "umount", "unmount":
		return umountCmd(rest)
	case "demo":
		return demoCmd(rest, stdout)
	case "apply":
		return applyCmd(rest, stdout)
	case "layout":
		return layoutCmd(rest, stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return usageErrorf("unknown command %q (want mount, umount, demo, apply or layout; see nlfs --help)", cmd)
}
