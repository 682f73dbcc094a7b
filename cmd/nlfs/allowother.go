package main

import (
	"bytes"
	"os"
)

// checkAllowOther refuses --allow-other for a non-root user when
// /etc/fuse.conf does not say user_allow_other: fusermount3 would refuse it
// anyway, but its reason would be lost (a daemon's stderr is /dev/null) and
// the user would read only "fusermount exited with code 256".
func checkAllowOther(allowOther bool) error {
	if !allowOther || os.Geteuid() == 0 {
		return nil
	}
	if conf, err := os.ReadFile("/etc/fuse.conf"); err == nil && hasUserAllowOther(conf) {
		return nil
	}
	return mountErrorf("--allow-other as a non-root user needs the line user_allow_other in /etc/fuse.conf (root must add it), or mount as root")
}

// hasUserAllowOther tells whether a fuse.conf enables user_allow_other.
func hasUserAllowOther(conf []byte) bool {
	for _, line := range bytes.Split(conf, []byte("\n")) {
		if string(bytes.TrimSpace(line)) == "user_allow_other" {
			return true
		}
	}
	return false
}
