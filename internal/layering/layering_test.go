// Package layering holds one test: that the packages depend on each other the way the
// layers go (cmd/nlfs -> {fs, web} -> engine -> {layout, remapper} -> run), and never back.
package layering

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/nlfs/nlfs/"

// forbidden lists, for each package, what it must not depend on, directly or not.
var forbidden = map[string][]string{
	"run":           {module, "github.com/hanwen/go-fuse", "net/http"},
	"layout":        {module + "remapper", module + "engine", module + "fs", module + "web", "github.com/hanwen/go-fuse", "net/http", "golang.org/x/sys"},
	"layout/render": {module + "remapper", module + "engine", module + "fs", module + "web", "github.com/hanwen/go-fuse", "net/http"},
	"remapper":      {module + "layout", module + "engine", module + "fs", module + "web", "github.com/hanwen/go-fuse", "net/http"},
	"engine":        {module + "fs", module + "web", module + "cmd", "github.com/hanwen/go-fuse", "net/http"},
	"fs":            {module + "web", module + "cmd", "net/http"},
	"web":           {module + "fs", module + "cmd", "github.com/hanwen/go-fuse"},
	// The test helpers: package fs's own tests use fusetest, every package's tests testenv.
	"internal/fusetest": {module + "fs", module + "web", module + "cmd"},
	"internal/testenv":  {module},
	// Small helpers of the product's own: they stand below every layer.
	"internal/fusectl":    {module},
	"internal/procstat":   {module},
	"internal/shellquote": {module},
}

func TestLayering(t *testing.T) {
	for pkg, bad := range forbidden {
		out, err := exec.Command("go", "list", "-deps", module+pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		deps := strings.Fields(string(out))
		for _, d := range deps {
			if d == module+pkg {
				continue
			}
			for _, b := range bad {
				if strings.HasPrefix(d, b) {
					t.Errorf("%s depends on %s", pkg, d)
				}
			}
		}
	}
	// The bindings reach the store and its mappings only through the engine: they import no
	// remapper themselves.
	for _, pkg := range []string{"fs", "web"} {
		out, err := exec.Command("go", "list", "-f", "{{join .Imports \"\\n\"}}", module+pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		for _, imp := range strings.Fields(string(out)) {
			if imp == module+"remapper" {
				t.Errorf("%s imports remapper: a binding must go through the engine", pkg)
			}
		}
	}
	// And the layers above do use the ones below (a check that the list is of real packages).
	out, _ := exec.Command("go", "list", "-deps", module+"fs").Output()
	for _, want := range []string{module + "engine", module + "layout", module + "remapper", module + "run"} {
		if !strings.Contains(string(out), want+"\n") {
			t.Errorf("fs does not depend on %s", want)
		}
	}
}
