package main

import "strings"

// quote returns s as one shell word, so that a path in a message can be
// pasted into a shell: as it is when no shell would read anything special in
// it, else in single quotes (a quote inside written '\”).
func quote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./_-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
