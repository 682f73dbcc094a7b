package engine

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/nlfs/nlfs/layout"
	"github.com/nlfs/nlfs/remapper"
)

// OfflineOptions configure ApplyOffline.
type OfflineOptions struct {
	MaxViewPages int64 // 0 means layout.DefaultMaxViewPages
	// Loaded, if set, is told the bytes of a source that is not a regular file read so far,
	// now and then.
	Loaded func(read int64)
	// Written, if set, is told the bytes of the view written so far and the view's size,
	// before the first byte and now and then.
	Written func(written, total int64)
}

// ApplyOffline writes to dst the view that layout text makes of src: the same remapping as a
// mount's, without FUSE or a mapped view (nlfs apply). A regular file is read in place;
// anything else (a pipe) is first streamed into a memfd, since the runs read it in any order.
// The layout is checked against the source's size before anything is written; a refusal is
// a *layout.Error. Memory stays bounded whatever the size (remapper.CopyRuns).
func ApplyOffline(text []byte, src, dst *os.File, opts OfflineOptions) error {
	src, size, cleanup, err := seekable(src, opts.Loaded)
	if err != nil {
		return err
	}
	defer cleanup()
	ps := remapper.PageSize()
	l, err := layout.Parse(text, layout.Limits{DataPages: (size + ps - 1) / ps, MaxViewPages: opts.MaxViewPages})
	if err != nil {
		return err
	}
	var progress func(int64)
	if opts.Written != nil {
		total := l.Pages * ps
		opts.Written(0, total)
		progress = func(n int64) { opts.Written(n, total) }
	}
	n, err := remapper.CopyRuns(dst, src, size, l.Runs, progress)
	if progress != nil {
		progress(n)
	}
	return err
}

// seekable returns src if it is a regular file, else a memfd holding what src gives.
func seekable(src *os.File, loaded func(int64)) (*os.File, int64, func(), error) {
	fi, err := src.Stat()
	if err != nil {
		return nil, 0, nil, fmt.Errorf("source: %w", err)
	}
	if fi.Mode().IsRegular() {
		return src, fi.Size(), func() {}, nil
	}
	fd, err := unix.MemfdCreate("nlfs-apply-source", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("source: memfd_create: %w", err)
	}
	mem := os.NewFile(uintptr(fd), "source")
	buf := make([]byte, 1<<20)
	var n int64
	for {
		k, rerr := io.ReadFull(src, buf)
		if k > 0 {
			if _, err := mem.Write(buf[:k]); err != nil {
				mem.Close()
				return nil, 0, nil, fmt.Errorf("keep the source: %w", err)
			}
			n += int64(k)
			if loaded != nil {
				loaded(n)
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			mem.Close()
			return nil, 0, nil, fmt.Errorf("read the source: %w", rerr)
		}
	}
	return mem, n, func() { mem.Close() }, nil
}
