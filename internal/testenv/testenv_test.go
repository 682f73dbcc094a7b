package testenv

import (
	"fmt"
	"runtime"
	"testing"
)

// recorder is a test as missing sees it, recording whether it was skipped or failed.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper() {}

func (r *recorder) Skipf(format string, args ...any) {
	r.skipped = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls missing as a test would, in a goroutine of its own (it ends the goroutine).
func run(t *testing.T, env string) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		missing(r, env, "no widget here")
	}()
	<-done
	return r
}

// TestMissing: a missing precondition skips the test, unless its variable is 1, where the test
// fails; a variable for another thing changes nothing.
func TestMissing(t *testing.T) {
	const env = "NLFS_REQUIRE_WIDGET"
	for _, c := range []struct {
		env, other  string
		fail        bool
		wantMessage string
	}{
		{"", "", false, "no widget here (NLFS_REQUIRE_WIDGET=1 makes this a failure)"},
		{"0", "", false, "no widget here (NLFS_REQUIRE_WIDGET=1 makes this a failure)"},
		{"", "1", false, "no widget here (NLFS_REQUIRE_WIDGET=1 makes this a failure)"},
		{"1", "", true, "NLFS_REQUIRE_WIDGET=1 but no widget here"},
	} {
		t.Setenv(env, c.env)
		t.Setenv("NLFS_REQUIRE_GADGET", c.other)
		r := run(t, env)
		got := r.skipped
		if c.fail {
			got = r.failed
		}
		if got != c.wantMessage || (r.skipped != "") == (r.failed != "") {
			t.Errorf("%s=%q: skipped %q, failed %q; want %s %q", env, c.env, r.skipped, r.failed, map[bool]string{true: "failed", false: "skipped"}[c.fail], c.wantMessage)
		}
	}
}
