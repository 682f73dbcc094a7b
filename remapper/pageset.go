package remapper

import "math/bits"

// pageSet is a set of store pages, one bit a page: the pages the Store has written (see
// Store.written). A 4 GiB store costs 128 KiB.
type pageSet struct {
	w []uint64
	n int64 // pages in the set
}

// count returns the pages in the set.
func (s *pageSet) count() int64 { return s.n }

// add puts pages [from, to) in the set.
func (s *pageSet) add(from, to int64) {
	if from >= to {
		return
	}
	if need := int((to + 63) / 64); need > len(s.w) {
		s.w = append(s.w, make([]uint64, need-len(s.w))...)
	}
	for p := from; p < to; {
		i, b := p/64, p%64
		k := min(64-b, to-p)
		mask := ^uint64(0)
		if k < 64 {
			mask = (uint64(1)<<k - 1) << b
		}
		s.n += int64(bits.OnesCount64(mask &^ s.w[i]))
		s.w[i] |= mask
		p += k
	}
}

// removeFrom takes pages from and above out of the set.
func (s *pageSet) removeFrom(from int64) {
	i := int(from / 64)
	if i >= len(s.w) {
		return
	}
	keep := uint64(1)<<(from%64) - 1
	s.n -= int64(bits.OnesCount64(s.w[i] &^ keep))
	for _, w := range s.w[i+1:] {
		s.n -= int64(bits.OnesCount64(w))
	}
	s.w[i] &= keep
	clear(s.w[i+1:])
	// Drop words that are all zero at the end, so that a store that shrank costs less.
	n := len(s.w)
	for n > 0 && s.w[n-1] == 0 {
		n--
	}
	s.w = s.w[:n:n]
}

// has reports whether page p is in the set.
func (s *pageSet) has(p int64) bool {
	i := p / 64
	return i < int64(len(s.w)) && s.w[i]&(1<<(p%64)) != 0
}

// span returns whether page from is in the set, and the end (at most to) of the stretch of
// pages from from on that are all in the set or all out of it.
func (s *pageSet) span(from, to int64) (end int64, in bool) {
	in = s.has(from)
	p := from
	for p < to {
		i := p / 64
		var w uint64
		if i < int64(len(s.w)) {
			w = s.w[i]
		}
		if !in {
			w = ^w
		}
		w >>= p % 64 // the bits of pages p.. in this word; a 0 ends the stretch
		k := int64(bits.TrailingZeros64(^w))
		if k < 64-p%64 {
			return min(p+k, to), in
		}
		p += 64 - p%64
	}
	return to, in
}

// all reports whether pages [from, to) are all in the set.
func (s *pageSet) all(from, to int64) bool {
	if from >= to {
		return true
	}
	end, in := s.span(from, to)
	return in && end == to
}
