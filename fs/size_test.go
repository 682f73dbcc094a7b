package fs

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nlfs/nlfs/engine"
)

// TestSizeLimitThroughMount: with --size, a write that needs store pages beyond the bound
// writes what fits, then fails with ENOSPC — as dd, cp and a mapping's msync report it —,
// nothing written before is lost, the daemon serves on, and df shows the bound and the use.
func TestSizeLimitThroughMount(t *testing.T) {
	const limit = 8
	mnt, _ := testMount(t, engine.Options{Pages: 0, SizeLimit: limit * int64(pageSize)})
	_, err := shErr(mnt, "head -c 49152 /dev/zero | tr '\\0' A | dd of=data bs=4096 status=none")
	if err == nil || !strings.Contains(err.Error(), "No space left on device") {
		t.Errorf("dd of 12 pages into an 8-page store: %v, want No space left on device", err)
	}
	if got := pageLetters([]byte(sh(t, mnt, "cat data"))); got != "AAAAAAAA" {
		t.Errorf("data after the short dd: %q, want 8 pages of A", got)
	}
	if st := status(t, mnt); !strings.Contains(st["last_error"], "No space left on device") &&
		!strings.Contains(st["last_error"], "size limit") {
		t.Errorf("last_error %q does not say the store is full", st["last_error"])
	}
	src := filepath.Join(t.TempDir(), "src")
	if err := os.WriteFile(src, bytes.Repeat([]byte{'B'}, 12*pageSize), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = shErr(mnt, "cp "+src+" data")
	if err == nil || !strings.Contains(err.Error(), "No space left on device") {
		t.Errorf("cp of 12 pages: %v, want No space left on device", err)
	}
	// Rewriting what exists needs no room.
	sh(t, mnt, "head -c 16384 /dev/zero | tr '\\0' C | dd of=data bs=4096 conv=notrunc status=none")

	sh(t, mnt, "truncate -s 65536 data") // sparse: pages 8-15 hold nothing
	m := startMapper(t, mnt, "data")
	m.ok("poke 1 D", "poke 12 E")
	if got := m.do("msync"); !strings.HasPrefix(got, "err ") {
		t.Errorf("msync of a store into a page beyond the bound: %q, want an error", got)
	}
	got := pageLetters([]byte(sh(t, mnt, "cat data")))
	if !strings.HasPrefix(got, "CDCC") || got[12] != '0' {
		t.Errorf("data after the refused store: %q, want CDCC… and page 12 still zeros", got)
	}
	fields := strings.Fields(strings.Split(sh(t, mnt, "df -B4096 --output=size,used ."), "\n")[1])
	if size, _ := strconv.Atoi(fields[0]); size != limit {
		t.Errorf("df size %s pages, want the bound %d", fields[0], limit)
	}
	if used, _ := strconv.Atoi(fields[1]); used != limit {
		t.Errorf("df used %s pages, want %d", fields[1], limit)
	}
	if st := status(t, mnt); st["size_limit"] != strconv.Itoa(limit*pageSize) {
		t.Errorf("status size_limit %q", st["size_limit"])
	}
}
