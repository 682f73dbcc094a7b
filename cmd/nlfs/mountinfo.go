package main

import (
	"github.com/moby/sys/mountinfo"
)

// The mount table, read in this one place: /proc/self/mountinfo as
// moby/sys/mountinfo parses it (fields split, octal escapes such as \040 for
// a space undone).

// nlfsType is the filesystem type of an nlfs mount in the mount table.
const nlfsType = "fuse.nlfs"

// mounts returns the mounts keep selects, in mount order.
func mounts(keep func(*mountinfo.Info) bool) []*mountinfo.Info {
	ms, err := mountinfo.GetMounts(func(m *mountinfo.Info) (skip, stop bool) {
		return !keep(m), false
	})
	if err != nil {
		return nil
	}
	return ms
}

// mountAt returns the mount on top at exactly path, if any.
func mountAt(path string) (*mountinfo.Info, bool) {
	ms := mounts(func(m *mountinfo.Info) bool { return m.Mountpoint == path })
	if len(ms) == 0 {
		return nil, false
	}
	return ms[len(ms)-1], true
}
