package fs

// The pages of the stress test (stress_test.go): what each written page says of itself, how it
// is encoded and decoded, and the layouts the flipper writes.

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/nlfs/nlfs/layout"
)

const (
	stressPages   = 63
	stressReaders = 8
	stressWriters = 2
	stressMagic   = 0x6e6c66732d737472 // "nlfs-str"
)

// The ways a writer writes a page.
const (
	kindData    = iota // write(2) through data, at the store page
	kindView           // write(2) through view, at a view page
	kindMapView        // a store through a writable shared mapping of view, then msync
	kindMapData        // a store through a writable shared mapping of data, then msync
	stressKinds
)

var stressKindNames = [stressKinds]string{"data", "view", "mmap-view", "mmap-data"}

// stressTag is what a written page says of itself.
type stressTag struct {
	seq    int64 // per writer, from 1; 0 is the initial content
	idx    int64 // the store page (data, mmap-data) or view page (view, mmap-view) written at
	kind   int
	writer int
}

func (g stressTag) pack() uint64 {
	return uint64(g.seq)<<16 | uint64(g.idx)<<4 | uint64(g.kind)<<1 | uint64(g.writer)
}

func (g stressTag) String() string {
	if g.seq == 0 {
		return fmt.Sprintf("the initial content of page %d", g.idx)
	}
	return fmt.Sprintf("write %d of writer %d (%s page %d)", g.seq, g.writer, stressKindNames[g.kind], g.idx)
}

// initialTag is what store page p holds before any write.
func initialTag(p int64) stressTag {
	return stressTag{seq: 0, idx: p, kind: kindData, writer: int(p % 2)}
}

func mix(x uint64) uint64 { // splitmix64's finalizer
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

func encodeStressPage(g stressTag) []byte { return stressPageOf(g.pack()) }

// stressPageOf is the page that says tag: its first word, then 511 words derived from it.
func stressPageOf(tag uint64) []byte {
	b := make([]byte, pageSize)
	binary.LittleEndian.PutUint64(b, tag^stressMagic)
	for i := 8; i < pageSize; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], mix(tag+uint64(i)))
	}
	return b
}

// decodeStressPage returns the tag of a whole page, or false for a page that is not one write
// (torn, mixed, zeros, garbage).
func decodeStressPage(b []byte) (stressTag, bool) {
	if len(b) != pageSize {
		return stressTag{}, false
	}
	tag := binary.LittleEndian.Uint64(b) ^ stressMagic
	for i := 8; i < pageSize; i += 8 {
		if binary.LittleEndian.Uint64(b[i:]) != mix(tag+uint64(i)) {
			return stressTag{}, false
		}
	}
	g := stressTag{seq: int64(tag >> 16), idx: int64(tag>>4) & 0xfff, kind: int(tag>>1) & 3, writer: int(tag & 1)}
	return g, g.idx < stressPages && tag&8 == 0
}

// stressLayouts are the layouts the flipper writes, as page lists; each keeps the parity of
// every view page. The empty text (the identity that follows data, here of 63 pages) has the
// same pages as the first.
var stressLayouts = func() [][]int64 {
	gen := func(f func(v int64) int64) []int64 {
		p := make([]int64, stressPages)
		for v := range p {
			p[v] = f(int64(v))
		}
		return p
	}
	last := int64(stressPages - 1)
	return [][]int64{
		gen(func(v int64) int64 { return v }),        // pinned identity
		gen(func(v int64) int64 { return v }),        // empty text: the following identity
		gen(func(v int64) int64 { return last - v }), // reverse: 62-v keeps parity since 63 is odd
		gen(func(v int64) int64 { // swaps within blocks of four
			if v < 60 {
				return v ^ 2
			}
			return v
		}),
		gen(func(v int64) int64 { // only the even pages reversed
			if v%2 == 0 {
				return last - v
			}
			return v
		}),
		gen(func(v int64) int64 { // only the odd pages reversed
			if v%2 == 1 {
				return last - v
			}
			return v
		}),
		gen(func(v int64) int64 { return v - v%4 + v%2 }), // aliases: 0 1 0 1 4 5 4 5 …
	}
}()

func stressLayoutText(k int) []byte {
	if k == 1 {
		return nil
	}
	return []byte(layout.Canonical(layout.Compile(stressLayouts[k])))
}

// stressInv64 is the inverse of the odd a modulo 2^64 (Newton's iteration).
func stressInv64(a uint64) uint64 {
	x := a // right in its low 3 bits; each step doubles them: 6, 12, 24, 48, 96
	for range 6 {
		x *= 2 - a*x
	}
	return x
}

func stressUnshift(x uint64, k uint) uint64 { // inverse of x ^= x >> k
	y := x
	for s := k; s < 64; s += k {
		y = x ^ y>>k
	}
	return y
}

// stressUnmix inverts mix.
func stressUnmix(x uint64) uint64 {
	x = stressUnshift(x, 31)
	x *= stressInv64(0x94d049bb133111eb)
	x = stressUnshift(x, 27)
	x *= stressInv64(0xbf58476d1ce4e5b9)
	return stressUnshift(x, 30)
}

// stressPageParts describes a page by the writes its words come from (each word names its
// tag: stressUnmix inverts mix), for the failure messages: a torn page shows which writes met.
func stressPageParts(b []byte) string {
	var parts []string
	var cur uint64
	start := 0
	for i := 0; i <= len(b); i += 8 {
		var tag uint64
		if i < len(b) {
			w := binary.LittleEndian.Uint64(b[i:])
			if i == 0 {
				tag = w ^ stressMagic
			} else {
				tag = stressUnmix(w) - uint64(i)
			}
		}
		if i == len(b) || (i > 0 && tag != cur) {
			g := stressTag{seq: int64(cur >> 16), idx: int64(cur>>4) & 0xfff, kind: int(cur>>1) & 3, writer: int(cur & 1)}
			parts = append(parts, fmt.Sprintf("words %d-%d: %v", start/8, i/8-1, g))
			start = i
		}
		cur = tag
	}
	if len(parts) > 4 {
		return fmt.Sprintf("%d pieces: not made of writes", len(parts))
	}
	return strings.Join(parts, "; ")
}
