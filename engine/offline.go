package engine

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/nlfs/nlfs/layout"
	"github.com/nlfs/nlfs/remapper"
)

// OfflineOptions configure PlanOffline.
type OfflineOptions struct {
	MaxViewPages int64 // 0 means layout.DefaultMaxViewPages
	// Loaded, if set, is told the bytes of a source that is not a regular file read so far,
	// now and then.
	Loaded func(read int64)
	// Written, if set, is told the bytes of the view written so far and the view's size,
	// before the first byte and now and then.
	Written func(written, total int64)
}

// Offline is a layout checked against a source, ready to be written: the same remapping as a
// mount's, without FUSE or a mapped view (nlfs apply).
type Offline struct {
	src     *os.File
	size    int64 // the source's, in bytes
	layout  *layout.Layout
	written func(written, total int64)
	cleanup func()
}

// PlanOffline checks layout text against src and returns the remapping, ready to be written;
// nothing is written yet, so a caller can check everything before it touches its output. A
// regular file is read in place; anything else (a pipe) is first streamed into a memfd, since
// the runs read it in any order. A refusal of the layout is a *layout.Error. Close releases
// what the plan holds.
func PlanOffline(text []byte, src *os.File, opts OfflineOptions) (*Offline, error) {
	ps := remapper.PageSize()
	src, size, cleanup, err := seekable(src, text, opts)
	if err != nil {
		return nil, err
	}
	l, err := layout.Parse(text, layout.Limits{DataPages: (size + ps - 1) / ps, MaxViewPages: opts.MaxViewPages})
	if err != nil {
		cleanup()
		return nil, err
	}
	return &Offline{src: src, size: size, layout: l, written: opts.Written, cleanup: cleanup}, nil
}

// ViewSize is the size of the view in bytes.
func (o *Offline) ViewSize() int64 { return o.layout.Pages * remapper.PageSize() }

// WriteTo writes the view to dst. Memory stays bounded whatever the size (remapper.CopyRuns).
func (o *Offline) WriteTo(dst *os.File) error {
	var progress func(int64)
	if o.written != nil {
		total := o.ViewSize()
		o.written(0, total)
		progress = func(n int64) { o.written(n, total) }
	}
	// No entries: the view is the source, page for page.
	n, err := remapper.CopyRuns(dst, o.src, o.size, o.layout.ViewRuns(), progress)
	if progress != nil {
		progress(n)
	}
	return err
}

// Close releases the source's copy, if one was made.
func (o *Offline) Close() { o.cleanup() }

// anyPages bounds no store page: page numbers stop at 2^52 (layout).
const anyPages = 1 << 52

// seekable returns src if it is a regular file, else a memfd holding as much of what src gives
// as the layout text reads: a layout that names store pages up to P needs P+1 pages of it,
// whatever follows (/dev/zero never ends); one with no entries is the whole stream, kept in
// memory up to a quarter of the machine's.
func seekable(src *os.File, text []byte, opts OfflineOptions) (*os.File, int64, func(), error) {
	fi, err := src.Stat()
	if err != nil {
		return nil, 0, nil, fmt.Errorf("source: %w", err)
	}
	if fi.Mode().IsRegular() {
		return src, fi.Size(), func() {}, nil
	}
	probe, err := layout.Parse(text, layout.Limits{DataPages: anyPages, MaxViewPages: opts.MaxViewPages})
	if err != nil {
		return nil, 0, nil, err
	}
	need, bound := int64(-1), DefaultSizeLimit()/2
	if !probe.Identity {
		need = probe.StorePagesNamed() * remapper.PageSize()
	}
	fd, err := unix.MemfdCreate("nlfs-apply-source", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("source: memfd_create: %w", err)
	}
	mem := os.NewFile(uintptr(fd), "source")
	buf := make([]byte, 1<<20)
	var n int64
	for need < 0 || n < need {
		if need < 0 && n > bound {
			mem.Close()
			return nil, 0, nil, fmt.Errorf("source: a stream of more than %d bytes (a quarter of this machine's memory), which a layout with no entries keeps whole in memory: give a file instead", bound)
		}
		chunk := buf
		if need >= 0 {
			chunk = buf[:min(int64(len(buf)), need-n)]
		}
		k, rerr := io.ReadFull(src, chunk)
		if k > 0 {
			if _, err := mem.Write(buf[:k]); err != nil {
				mem.Close()
				return nil, 0, nil, fmt.Errorf("keep the source: %w", err)
			}
			n += int64(k)
			if opts.Loaded != nil {
				opts.Loaded(n)
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
