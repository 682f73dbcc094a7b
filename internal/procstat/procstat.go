// Package procstat reads /proc/PID/stat, whose second field, the command name, is in
// parentheses and may hold anything (spaces, parentheses): the fields that follow are
// found after its last ')'.
package procstat

import (
	"bytes"
	"os"
	"strconv"
	"strings"
)

// Fields returns the fields of /proc/PID/stat after the command name: Fields[0] is the state
// (field 3 of proc(5)), and field N of proc(5) is Fields[N-3]. It is nil if the file cannot
// be read or has no command name (the process is gone).
func Fields(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}
