package engine

import "sync/atomic"

// Fault injection for the tests of the layers above (fs, cmd/nlfs): a write that the engine
// acknowledges in full but never stores, the loss that a lost-write check must catch (the
// fs stress test proves its check with it). Production code never arms it; unarmed, the hook
// in Engine.WriteData and View.WriteView costs one atomic load per write.

var dropWrites struct {
	every   atomic.Int64 // 0: nothing armed; N: every Nth write is dropped
	seen    atomic.Int64 // writes counted since it was armed
	dropped atomic.Int64 // writes dropped since the process started
}

// dropAcknowledged reports whether this write is to be dropped: answered as fully written,
// with nothing stored and no event sent.
func dropAcknowledged() bool {
	n := dropWrites.every.Load()
	if n == 0 || dropWrites.seen.Add(1)%n != 0 {
		return false
	}
	dropWrites.dropped.Add(1)
	return true
}

// DropAcknowledgedWrites is for tests only. It makes every everyN-th write through data or a
// view (Engine.WriteData, View.WriteView; write(2) and the kernel's writeback of mappings
// alike) report success for all its bytes while storing none of them, until restore is
// called. The count is over every engine in the process, so arm it only while one test's
// mount is writing.
func DropAcknowledgedWrites(everyN int) (restore func()) {
	if everyN <= 0 {
		panic("engine: DropAcknowledgedWrites needs everyN > 0")
	}
	dropWrites.seen.Store(0)
	dropWrites.every.Store(int64(everyN))
	return func() { dropWrites.every.Store(0) }
}

// AcknowledgedWritesDropped returns how many writes DropAcknowledgedWrites has dropped since
// the process started.
func AcknowledgedWritesDropped() int64 { return dropWrites.dropped.Load() }
