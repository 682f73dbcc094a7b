package main

import (
	"fmt"
	"math"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/nlfs/nlfs/engine"
	"github.com/nlfs/nlfs/layout"
	"github.com/nlfs/nlfs/remapper"
)

// mountConfig is what a mount was asked to do. Every mount flag is defined
// once, here: the foreground mount, the daemon (re-run with the user's own
// arguments, daemon.go) and -o name=value all parse through this one set.
// A flag that is an engine option as it stands is bound to it in opts.
type mountConfig struct {
	flags *pflag.FlagSet
	opts  engine.Options // Pages, MaxViewPages; the rest filled by engineOptions

	source     string
	layout     string
	httpAddr   string
	backend    string
	allowOther bool
	debug      bool
	foreground bool
	readyFD    int // the daemon reports readiness here; 0: not a daemon child
}

func newMountConfig() *mountConfig {
	c := &mountConfig{flags: pflag.NewFlagSet("mount", pflag.ContinueOnError)}
	f := c.flags
	f.SortFlags = false
	int64Var(f, &c.opts.Pages, "pages", 16, "size the store to `N` pages; not with --source")
	f.StringVar(&c.source, "source", "", "fill data from `FILE`, at its exact size (- for standard input)")
	f.StringVar(&c.opts.StorePath, "store", "", "keep the store in the file `PATH` (on tmpfs: /dev/shm/NAME), made from --pages or --source if new; it outlives the daemon, with the layouts of its views")
	f.Var(sizeValue{&c.opts.SizeLimit}, "size", "bound the store's memory to `BYTES` (suffixes K, M, G, T; default: half of RAM)")
	f.StringVar(&c.layout, "layout", "", "apply the layout in `FILE` to the view first")
	backendFlag(f, &c.backend)
	maxViewPagesFlag(f, &c.opts.MaxViewPages)
	f.StringVar(&c.httpAddr, "http", "", "serve the live page on `ADDR` (host:port; port 0 picks one; loopback unless you say otherwise)")
	switchVar(f, &c.opts.ReadOnly, "read-only", "r", "refuse writes to data and every view (EROFS); layouts still apply; -o ro")
	switchVar(f, &c.allowOther, "allow-other", "", "let other users use the mount (with default_permissions)")
	switchVar(f, &c.debug, "debug", "", "log every FUSE request to stderr (the caller's, even from the daemon)")
	switchVar(f, &c.foreground, "foreground", "f", "stay attached; Ctrl-C or SIGTERM unmounts")
	f.VarP(optionsValue{c}, "options", "o", "the options above as `OPTS`: name=value,... (a switch by its name, as allow_other); ro is --read-only; generic mount options (rw, nosuid, noatime, ...) are accepted")
	f.IntVar(&c.readyFD, "ready-fd", 0, "the daemon reports readiness on this descriptor")
	f.MarkHidden("ready-fd")
	return c
}

// backendFlag and maxViewPagesFlag are the flags a mount shares with apply.
func backendFlag(f *pflag.FlagSet, p *string) {
	f.StringVar(p, "backend", "auto", "map views with backend `NAME`: auto, remap, mmap or gather")
}

func maxViewPagesFlag(f *pflag.FlagSet, p *int64) {
	int64Var(f, p, "max-view-pages", layout.DefaultMaxViewPages, "refuse layouts of views over `N` pages")
}

// changed tells whether the user gave flag name, on the command line or in -o.
func (c *mountConfig) changed(name string) bool { return c.flags.Lookup(name).Changed }

// check refuses values no mount can use, before anything is started.
func (c *mountConfig) check() error {
	if c.readyFD != 0 && !c.foreground {
		return usageErrorf("--ready-fd is for the daemon nlfs starts itself")
	}
	if c.changed("pages") && c.source != "" {
		return usageErrorf("--pages and --source both size the store; give one")
	}
	if c.opts.StorePath != "" && (c.changed("pages") || c.source != "") {
		if _, err := os.Stat(c.opts.StorePath); err == nil {
			return storeErrorf("store %s exists: its bytes are the data, so it takes no --pages or --source (remove it to start over)", quote(c.opts.StorePath))
		}
	}
	if c.opts.Pages < 0 {
		return usageErrorf("--pages %d: want 0 or more", c.opts.Pages)
	}
	if c.opts.Pages > math.MaxInt64/remapper.PageSize() {
		return usageErrorf("--pages %d: too large (the store's size in bytes must fit in 63 bits)", c.opts.Pages)
	}
	if c.opts.MaxViewPages < 1 {
		return usageErrorf("--max-view-pages %d: want 1 or more", c.opts.MaxViewPages)
	}
	if _, err := remapper.ParseBackend(c.backend); err != nil {
		return usageErrorf("--backend: %v", err)
	}
	if c.httpAddr != "" {
		_, port, err := net.SplitHostPort(c.httpAddr)
		if err == nil {
			_, err = strconv.ParseUint(port, 10, 16)
		}
		if err != nil {
			return usageErrorf("--http %s: want HOST:PORT, the port a number from 0 to 65535 (0 picks one)", c.httpAddr)
		}
	}
	return nil
}

// fuseSource takes mount.fuse3's SOURCE: "none" is the anonymous store; a
// path names the store, through the store flag.
func (c *mountConfig) fuseSource(source string) error {
	if source == "none" {
		return nil
	}
	return c.flags.Set("store", source)
}

// optionsValue is -o: a comma-separated list applied, in order, to the mount
// flags themselves (allow_other is --allow-other, ro is --read-only), or to
// genericOption.
type optionsValue struct{ c *mountConfig }

func (optionsValue) String() string { return "" }
func (optionsValue) Type() string   { return "options" }

func (o optionsValue) Set(list string) error {
	for _, opt := range strings.Split(list, ",") {
		if opt == "" {
			continue
		}
		name, value, hasValue := strings.Cut(opt, "=")
		switch {
		case name == "ro" && !hasValue: // mount(8)'s words for it
			name = "read-only"
		case name == "rw" && !hasValue:
			name, value, hasValue = "read-only", "false", true
		}
		f := o.c.flags.Lookup(strings.ReplaceAll(name, "_", "-"))
		if f == nil || f.Hidden || f.Name == "options" {
			if !genericOption(name) {
				return fmt.Errorf("-o %s: unknown mount option", name)
			}
			continue
		}
		if !hasValue {
			if f.NoOptDefVal == "" {
				varname, _ := pflag.UnquoteUsage(f)
				return fmt.Errorf("-o %s: needs a value (%s=%s)", name, name, varname)
			}
			value = f.NoOptDefVal
		}
		if err := f.Value.Set(value); err != nil {
			return fmt.Errorf("-o %s=%s: %s", name, value, valueError(err))
		}
		f.Changed = true
	}
	return nil
}

// genericOption tells whether name is one of the options mount(8) and
// mount.fuse3 pass to every FUSE filesystem from `mount -t fuse.nlfs` and
// fstab lines. nlfs accepts them all: they ask for what an nlfs mount is
// anyway (nosuid and nodev, which are always on; noexec and the atime
// ones, which change nothing where no file is executable and no atime is
// kept), or for mount(8) and systemd alone (auto, user, nofail, _netdev,
// x-systemd.*), or, as dev and suid that mount.fuse3 adds itself, for what no
// nlfs file can be. ro and rw are not among them: ro is --read-only, and rw
// (which mount(8) passes when ro is not asked for) clears it.
func genericOption(name string) bool {
	switch name {
	case "defaults", "auto", "noauto", "user", "nouser", "users", "owner", "nofail", "_netdev",
		"suid", "nosuid", "dev", "nodev", "exec", "noexec",
		"atime", "noatime", "relatime", "norelatime", "strictatime", "nostrictatime", "lazytime", "nolazytime", "diratime", "nodiratime",
		"sync", "async", "dirsync", "default_permissions":
		return true
	}
	return strings.HasPrefix(name, "x-") || name == "comment"
}
