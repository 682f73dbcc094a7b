package fs

import "github.com/nlfs/nlfs/remapper"

// The fault tests arm faults in the mapper of an in-process mount; the hooks
// must be in place before any mount serves requests (see
// remapper.EnableFaultInjection). With nothing armed they pass every call
// through.
func init() { remapper.EnableFaultInjection() }
