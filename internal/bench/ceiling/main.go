// Command ceiling mounts the fastest file go-fuse can serve on this machine,
// as a yardstick for nlfs in scripts/bench.sh: one 1 GiB file, served with
// direct I/O like nlfs's, whose reads are answered straight from 1 GiB of
// memory that is always mapped (no lookup, no lock, no page fault: just the
// reply, from memory as cold in the CPU caches as a tmpfs file's) and whose
// writes are dropped unread. What nlfs adds on top of it is its own cost;
// the gap between it and tmpfs is FUSE's.
//
// Usage: ceiling MOUNTPOINT (stays in the foreground; SIGTERM or SIGINT
// unmounts). It prints "ready" once mounted.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

const size = 1 << 30

// buf is the file's content, touched once so that it is all mapped.
var buf = make([]byte, size)

type root struct{ fusefs.Inode }

type file struct{ fusefs.Inode }

func (r *root) OnAdd(ctx context.Context) {
	r.AddChild("f", r.NewPersistentInode(ctx, &file{}, fusefs.StableAttr{Mode: syscall.S_IFREG, Ino: 2}), false)
}

func (f *file) Open(ctx context.Context, flags uint32) (fusefs.FileHandle, uint32, syscall.Errno) {
	return nil, fuse.FOPEN_DIRECT_IO, 0
}

func (f *file) Getattr(ctx context.Context, fh fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Mode, out.Size = 0o644, size
	return 0
}

func (f *file) Setattr(ctx context.Context, fh fusefs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return f.Getattr(ctx, fh, out)
}

func (f *file) Read(ctx context.Context, fh fusefs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if off >= size {
		return fuse.ReadResultData(nil), 0
	}
	n := min(int64(len(dest)), size-off)
	return fuse.ReadResultVector([][]byte{buf[off : off+n]}), 0
}

func (f *file) Write(ctx context.Context, fh fusefs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	return uint32(len(data)), 0
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: ceiling MOUNTPOINT")
		os.Exit(2)
	}
	for i := range buf {
		buf[i] = byte(i)
	}
	srv, err := fusefs.Mount(os.Args[1], &root{}, &fusefs.Options{MountOptions: fuse.MountOptions{
		FsName: "ceiling", Name: "ceiling", MaxWrite: fuse.MAX_KERNEL_WRITE,
		DirectMount: true, DirectMountStrict: os.Geteuid() == 0,
		ExtraCapabilities: fuse.CAP_ATOMIC_O_TRUNC,
	}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "ceiling:", err)
		os.Exit(1)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	go func() {
		<-sig
		srv.Unmount()
	}()
	fmt.Println("ready")
	srv.Wait()
}
