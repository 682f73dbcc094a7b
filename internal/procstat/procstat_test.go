package procstat

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// A process whose name holds spaces and a ')' still has its state and parent found.
func TestFieldsOfAnOddName(t *testing.T) {
	exe := filepath.Join(t.TempDir(), "a) b (c")
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(sleep, exe); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	f := Fields(cmd.Process.Pid)
	if len(f) < 20 {
		t.Fatalf("Fields: %q", f)
	}
	if f[0] != "S" && f[0] != "R" {
		t.Errorf("state %q, want S or R", f[0])
	}
	if f[1] != strconv.Itoa(os.Getpid()) {
		t.Errorf("parent %q, want %d", f[1], os.Getpid())
	}
}

func TestFieldsOfNoProcess(t *testing.T) {
	if f := Fields(1 << 30); f != nil {
		t.Errorf("Fields of no process: %q", f)
	}
}
