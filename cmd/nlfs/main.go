// Command nlfs makes Linux nonlinear file mappings something you can mount,
// cat, script and see. See README.md and docs/nlfs.1.
//
// The package is split by concern: cli.go (the command tree on cobra, flag
// errors) and help.go (GNU-style help, which manpage.go turns into the man
// page); mountflags.go (every mount flag, once, and -o), mount.go (serving
// a mount), daemon.go (the background mount), pidfile.go (finding a
// daemon), fuse.go (what mounting needs from the machine), mountpoint.go and
// mountinfo.go (checking, recovering and unmounting mountpoints), umount.go,
// demo.go, apply.go, layoutcmd.go, completion.go, progress.go, quote.go
// (paths in messages) and exit.go (exit codes).
package main

import "os"

func main() {
	if len(os.Args) == 3 && os.Args[1] == probeCommand { // nlfs's own child (probeMount)
		os.Exit(probeChild(os.Args[2]))
	}
	exit(execute(os.Args[1:], os.Stdout))
}
