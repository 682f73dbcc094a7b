// Package testenv is what the tests need from the machine, and the one rule for when it is
// missing: the test skips, saying what is missing and how to get it, unless the variable
// named for that thing is set to 1, where it fails instead. CI sets every one of them
// (.ci/run), so that a CI machine that lost a tool fails instead of passing with its tests
// silently gone:
//
//	NLFS_REQUIRE_FUSE               /dev/fuse, and fusermount3 when not root (RequireFUSE)
//	NLFS_REQUIRE_CHROMIUM           a Chromium for the browser tests (RequireChromium)
//	NLFS_REQUIRE_REMAP_FILE_PAGES   a kernel that lets remap_file_pages(2) work (RequireRemapFilePages)
//	NLFS_REQUIRE_PAGEMAP            /proc/self/pagemap (RequirePagemap)
//	NLFS_REQUIRE_ROOT               root, to act as other users or mount(8) (RequireRoot)
//
// It imports no nlfs package, so that every package's own tests can use it.
package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// missing ends a test whose precondition does not hold here: a skip, or a failure when the
// environment variable env is 1.
func missing(t testing.TB, env, what string) {
	t.Helper()
	if os.Getenv(env) == "1" {
		t.Fatalf("%s=1 but %s", env, what)
	}
	t.Skipf("%s (%s=1 makes this a failure)", what, env)
}

// RequireFUSE skips a test that mounts a FUSE filesystem where it cannot: no usable
// /dev/fuse, or, for a user other than root, no fusermount3.
func RequireFUSE(t testing.TB) {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		missing(t, "NLFS_REQUIRE_FUSE", fmt.Sprintf("/dev/fuse is unusable: %v", err))
	}
	if os.Geteuid() != 0 && lookPath("fusermount3", "fusermount") == "" {
		missing(t, "NLFS_REQUIRE_FUSE", "not root and no fusermount3 (apt-get install fuse3)")
	}
}

// RequireChromium returns the path of a Chromium for a test that drives a browser; without
// one the test skips.
func RequireChromium(t testing.TB) string {
	t.Helper()
	p := lookPath("chromium", "chromium-browser")
	if p == "" {
		missing(t, "NLFS_REQUIRE_CHROMIUM", "no chromium (apt-get install chromium)")
	}
	return p
}

// RequireRemapFilePages skips a test that needs remap_file_pages(2) to work where the kernel
// refuses it (gVisor's ENOSYS, a seccomp filter's EPERM). It asks the kernel itself, with a
// call of its own on a scratch mapping, not through the code under test: a test must not skip
// because the probe it tests is wrong.
func RequireRemapFilePages(t testing.TB) {
	t.Helper()
	if err := remapWorks(); err != nil {
		missing(t, "NLFS_REQUIRE_REMAP_FILE_PAGES", fmt.Sprintf("remap_file_pages does not work here: %v", err))
	}
}

// remapWorks makes one remap_file_pages call: page 1 of a two-page memfd shown at page 0 of a
// shared mapping of it, and checks that the page shows there.
func remapWorks() error {
	fd, err := unix.MemfdCreate("nlfs-testenv", unix.MFD_CLOEXEC)
	if err != nil {
		return fmt.Errorf("memfd_create: %w", err)
	}
	defer unix.Close(fd)
	ps := os.Getpagesize()
	if _, err := unix.Pwrite(fd, []byte{1}, int64(ps)); err != nil {
		return fmt.Errorf("pwrite: %w", err)
	}
	m, err := unix.Mmap(fd, 0, 2*ps, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("mmap: %w", err)
	}
	defer unix.Munmap(m)
	// remap_file_pages(addr, size, prot 0, pgoff 1, flags 0); x/sys does not wrap it.
	if _, _, e := unix.Syscall6(unix.SYS_REMAP_FILE_PAGES, uintptr(unsafe.Pointer(&m[0])), uintptr(ps), 0, 1, 0, 0); e != 0 {
		return e
	}
	if m[0] != 1 {
		return errors.New("the call succeeded but the page did not move")
	}
	return nil
}

// RequirePagemap skips a test that reads /proc/self/pagemap (which pages are in memory) where
// the kernel has none.
func RequirePagemap(t testing.TB) {
	t.Helper()
	f, err := os.Open("/proc/self/pagemap")
	if err != nil {
		missing(t, "NLFS_REQUIRE_PAGEMAP", fmt.Sprintf("no pagemap: %v", err))
	}
	f.Close()
}

// RequireRoot skips a test that must run as root (to act as another user with setpriv, to
// mount through mount(8)) where it is not root or lacks one of the tools it names.
func RequireRoot(t testing.TB, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		missing(t, "NLFS_REQUIRE_ROOT", "the test must run as root")
	}
	for _, tool := range tools {
		if lookPath(tool) == "" {
			missing(t, "NLFS_REQUIRE_ROOT", "no "+tool+" on PATH")
		}
	}
}

// lookPath returns the path of the first of names found on PATH, "" if none is.
func lookPath(names ...string) string {
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}
