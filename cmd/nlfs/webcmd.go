package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

func newWebCmd(stdout io.Writer) *cobra.Command {
	var open bool
	cmd := &cobra.Command{
		Use:   "web [OPTION]... MOUNTPOINT",
		Short: "print the address of a mount's live page (--http), or open it",
		Long: `Print the address, with its token, of the live page of the nlfs mount at
MOUNTPOINT (mounted with --http ADDR): what its file web holds, which only the
mount's owner may read. With --open, open it in a browser with xdg-open.`,
		Args: wantArgs("MOUNTPOINT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return webAddress(args[0], open, stdout)
		},
		ValidArgsFunction: completeMountpoints,
	}
	switchVar(cmd.Flags(), &open, "open", "", "open the page with xdg-open")
	return cmd
}

func webAddress(mountpoint string, open bool, stdout io.Writer) error {
	mnt, err := filepath.Abs(mountpoint)
	if err != nil {
		return mountpointErrorf("mountpoint %s: %v", quote(mountpoint), err)
	}
	if m, ok := mountAt(mnt); !ok || m.FSType != nlfsType {
		return mountpointErrorf("%s is not an nlfs mount", quote(mnt))
	}
	// A read of the file web from a daemon that does not answer would never return: a child
	// asks first (probeMount), as nlfs umount and mount do.
	switch state, _ := probeMount(mnt); state {
	case mountWedged:
		return &exitError{exitDaemon, errors.New(wedgedMessage(mnt, findDaemon(mnt)))}
	case mountDead:
		return mountpointErrorf("no daemon serves %s any more (it was killed); remove the mount with: nlfs umount %s", quote(mnt), quote(mnt))
	}
	b, err := os.ReadFile(filepath.Join(mnt, "web"))
	if errors.Is(err, os.ErrNotExist) {
		return mountpointErrorf("%s has no live page: mount it with --http ADDR (e.g. --http 127.0.0.1:0)", quote(mnt))
	}
	if err != nil {
		return fmt.Errorf("read %s: %v", quote(filepath.Join(mnt, "web")), unwrapPath(err))
	}
	url := strings.TrimSpace(string(b))
	if !open {
		fmt.Fprintln(stdout, url)
		return nil
	}
	xdg, err := exec.LookPath("xdg-open")
	if err != nil {
		return fmt.Errorf("no xdg-open here to open a browser: open %s yourself", url)
	}
	if out, err := exec.Command(xdg, url).CombinedOutput(); err != nil {
		return fmt.Errorf("xdg-open %s: %v %s", url, err, strings.TrimSpace(string(out)))
	}
	return nil
}
