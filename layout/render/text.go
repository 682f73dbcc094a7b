// Package render draws a mapping, given as runs, for people: as text (Text: the `map` file and
// `nlfs layout show`) and as an SVG picture (SVG: the `map.svg` file). Pure Go, no I/O beyond the
// writer it is given; what the kernel holds (VMAs, physical frames, the backend) comes in as Info,
// filled by the caller. Every drawing is bounded in size whatever the view.
package render

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/nlfs/nlfs/run"
)

// Info is what the renderers know beyond the runs.
type Info struct {
	// DataPages is the store's size in pages now; store pages >= DataPages are past the end of data (they
	// read as zeros) and are marked. Negative or math.MaxInt64 (what `nlfs layout show` passes without
	// --pages) means unknown: nothing is marked and the totals say "unknown".
	DataPages  int64
	VMAs       int64    // the kernel's VMAs covering the view, -1 if unknown (e.g. `nlfs layout show` without a mount)
	Backend    string   // "" if unknown
	Frames     []uint64 // physical frame number of each view page (len == view pages), nil if unknown; 0 = not resident
	FramesNote string   // why Frames is nil, e.g. "physical frames need root (/proc/self/pagemap)"; "" if not asked
	// FrameLabels: Frames holds labels (1, 2, … in view order), not frame numbers, for a reader
	// the kernel would not show frame numbers to; drawn f1, f2, …
	FrameLabels bool

	// Maps are the lines of the `vmas` file (the kernel's VMAs over the view, from /proc/self/maps)
	// and ViewAddr the address of view page 0: together they say which view pages each VMA holds, so
	// that a small view is drawn VMA by VMA as the kernel holds it. nil and 0 when unknown (no mount,
	// or the gather backend, which maps no runs).
	Maps     []string
	ViewAddr uint64
	PageSize int64 // bytes per page, to read addresses and offsets; 0 means 4096

	// FirstByte returns the first byte of a store page, so that small views show what the pages
	// hold (the demos' letters); nil when contents are unknown. The renderers call it only for
	// small views, at most once per store page they draw, so its cost is bounded whatever the store.
	FirstByte func(storePage int64) (byte, bool)
}

// Limits of the drawings. They are what keeps `map` and `map.svg` a screenful or two and under a
// mebibyte whatever the view: a reader of a 1,048,576-page shuffle wants its shape and its totals,
// not a million lines.
const (
	SmallView     = 64 // views up to this many pages are drawn page by page
	mapTextWidth  = 80 // the terminal the text map is laid out for
	mapHeadItems  = 25 // large views: lines of runs shown from the start of the view...
	mapTailItems  = 14 // ...and from its end, around one "... N more runs ..." line
	mapAliasItems = 6  // at most this many "also at view" entries per row
	mapFrameLines = 16 // at most this many shared frames listed
)

// mapStats are the totals both renderers print, computed in one pass over the runs and a radix sort.
type mapStats struct {
	viewPages int64 // sum of run counts
	runs      int   // non-empty runs
	dataKnown bool
	dataPages int64
	fileEnd   int64 // highest store page shown + 1; 0 for an empty view
	shown     int64 // distinct store pages shown
	aliased   int64 // store pages shown at more than one view page
	pastData  int64 // view pages that show a store page past the end of data
	cost      Cost  // what the view costs the kernel, before Linux 4.0 and since
}

// mapRuns drops runs that no layout produces (empty, negative pages, or pages or a view so large
// that sums would overflow) so that the renderers cannot panic or loop on them; it copies only when
// it must, so the common case costs nothing.
func mapRuns(runs []run.Run) []run.Run {
	const big = 1 << 62
	var view int64
	for i, r := range runs {
		if r.Count <= 0 || r.File < 0 || r.Count > big || r.File > big || view+r.Count > big {
			out := slices.Clone(runs[:i])
			for _, r := range runs[i:] {
				if r.Count > 0 && r.File >= 0 && r.Count <= big && r.File <= big && view+r.Count <= big {
					out = append(out, r)
					view += r.Count
				}
			}
			return out
		}
		view += r.Count
	}
	return runs
}

// newMapStats computes the totals. Aliasing is counted on the runs, not the pages (a sweep over the
// runs sorted by store page), so its cost depends on the number of runs only: a 2^40-page identity
// view is one run and costs nothing.
func newMapStats(runs []run.Run, info Info) mapStats {
	st := mapStats{runs: len(runs), dataPages: info.DataPages}
	st.dataKnown = info.DataPages >= 0 && info.DataPages != math.MaxInt64
	type span struct{ a, b int64 }
	spans := make([]span, len(runs))
	sorted, reversed := true, true
	for i, r := range runs {
		st.viewPages += r.Count
		end := r.File + r.Count
		st.fileEnd = max(st.fileEnd, end)
		if st.dataKnown && end > info.DataPages {
			st.pastData += end - max(r.File, info.DataPages)
		}
		spans[i] = span{r.File, end}
		if i > 0 {
			sorted = sorted && spans[i-1].a <= r.File
			reversed = reversed && spans[i-1].a >= r.File
		}
	}
	// Most layouts people write are already in store order or in reverse; only shuffles pay for a
	// sort, and a radix sort keeps even those linear in the runs.
	switch {
	case sorted:
	case reversed:
		slices.Reverse(spans)
	default:
		mapRadixSort(spans, func(s span) uint64 { return uint64(s.a) })
	}
	// covered: every page below it that some span covers has been seen; twice: likewise for pages
	// covered at least twice (see the loop: with spans sorted by start, both are prefixes of what is left).
	var covered, twice int64 = math.MinInt64, math.MinInt64
	for _, s := range spans {
		if hi := min(s.b, covered); hi > max(s.a, twice) {
			st.aliased += hi - max(s.a, twice)
			twice = hi
		}
		if s.b > max(s.a, covered) {
			st.shown += s.b - max(s.a, covered)
			covered = s.b
		}
	}
	st.cost = KernelCost(runs)
	return st
}

// mapRadixSort sorts s by key, stably, in time linear in len(s): a least-significant-digit radix sort
// in 11-bit digits, with only as many passes as the largest key needs (two for a million pages).
func mapRadixSort[T any](s []T, key func(T) uint64) {
	const digit = 11
	if len(s) < 2 {
		return
	}
	var top uint64
	for _, x := range s {
		top |= key(x)
	}
	tmp := make([]T, len(s))
	src, dst := s, tmp
	for shift := 0; shift < 64 && top>>shift != 0; shift += digit {
		var count [1<<digit + 1]int
		for _, x := range src {
			count[(key(x)>>shift)&(1<<digit-1)+1]++
		}
		for i := 1; i < len(count); i++ {
			count[i] += count[i-1]
		}
		for _, x := range src {
			d := (key(x) >> shift) & (1<<digit - 1)
			dst[count[d]] = x
			count[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &s[0] {
		copy(s, src)
	}
}

// past reports whether store page f is past the end of data.
func (st *mapStats) past(f int64) bool { return st.dataKnown && f >= st.dataPages }

// Text draws the mapping as text (the `map` file, `nlfs layout show`).
//
// Views up to 64 pages get a drawing in the manner of TLPI Figure 49-5 (the view above, the store
// below, a [box] per VMA), the same view as it cost the kernel before Linux 4.0 beside today, their
// VMAs (or runs) one per line, and one row per view page ("view 0 -> store 2"); larger ones get
// their runs, with stretches of like runs (reversed, repeated, interleaved) one line each,
// summarized to at most 40 lines, and the cost before 4.0 and since in words. Both end in
// `key: value` totals whose keys match the status file's where they mean the same (view_pages,
// data_pages, runs, vmas, the three *_linux_4_0 keys of Cost, backend), then store_pages_shown,
// aliased_store_pages (store pages shown at several view pages) and view_pages_past_data (view
// pages that read as zeros); and, when asked for, the physical frames.
//
// Runs are read in order as the view from page 0; their View fields are not consulted. The output is
// bounded (under 80 lines for a large view) for any input, and the cost is linear in the runs: a
// radix sort for the aliasing count, never a loop over pages of a long run.
func Text(w io.Writer, runs []run.Run, info Info) error {
	runs = mapRuns(runs)
	st := newMapStats(runs, info)
	var b bytes.Buffer
	switch {
	case st.viewPages == 0:
		b.WriteString("empty view (0 pages)\n")
	case st.viewPages <= SmallView:
		textSmall(&b, runs, &st, info)
	default:
		textLarge(&b, runs, &st)
		b.WriteByte('\n')
		textCostLarge(&b, runs, &st, info)
	}
	b.WriteByte('\n')
	textTotals(&b, &st, info)
	textFrames(&b, &st, info)
	_, err := w.Write(b.Bytes())
	return err
}

// total is one figure of the totals that map ends with and map.svg's heading says in words: its
// key, the same as the status file's where there is one (so that scripts can grep either), the
// words map.svg says it in ("" where its title says it already), and its value.
type total struct{ key, words, value string }

// mapTotals are the totals both renderers give, in the text map's order.
func mapTotals(st *mapStats, info Info) []total {
	known := func(ok bool, n int64) string {
		if !ok {
			return "unknown"
		}
		return strconv.FormatInt(n, 10)
	}
	backend := info.Backend
	if backend == "" {
		backend = "unknown"
	}
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	t := []total{
		{"view_pages", "", n(st.viewPages)},
		{"data_pages", "store pages", known(st.dataKnown, st.dataPages)},
		{"runs", "", strconv.Itoa(st.runs)},
		{"vmas", "VMAs", known(info.VMAs >= 0, info.VMAs)},
	}
	for _, kv := range st.cost.Keys() {
		t = append(t, total{kv.Key, "", n(kv.Value)}) // map.svg draws them
	}
	return append(t,
		total{"backend", "backend", backend},
		total{"store_pages_shown", "shown", n(st.shown)},
		total{"aliased_store_pages", "aliased", n(st.aliased)},
		total{"view_pages_past_data", "past the end of data", n(st.pastData)},
	)
}

// textTotals writes the totals as `key: value` lines.
func textTotals(b *bytes.Buffer, st *mapStats, info Info) {
	for _, t := range mapTotals(st, info) {
		fmt.Fprintf(b, "%s: %s\n", t.key, t.value)
	}
}

// mapViewsOf maps each store page of a small view to the view pages that show it, in view order.
func mapViewsOf(pages []int64) map[int64][]int64 {
	views := make(map[int64][]int64, len(pages))
	for v, f := range pages {
		views[f] = append(views[f], int64(v))
	}
	return views
}

// mapPageList writes sorted pages as "1, 3-7, 9", leaving out skip (the row's own page) and stopping
// after limit entries, so that a page shown at all 64 view pages still makes a short row.
func mapPageList(pages []int64, skip int64, limit int) string {
	var parts []string
	left := 0
	for i := 0; i < len(pages); {
		if pages[i] == skip {
			i++
			continue
		}
		j := i
		for j+1 < len(pages) && pages[j+1] == pages[j]+1 && pages[j+1] != skip {
			j++
		}
		if len(parts) < limit {
			if j > i {
				parts = append(parts, fmt.Sprintf("%d-%d", pages[i], pages[j]))
			} else {
				parts = append(parts, strconv.FormatInt(pages[i], 10))
			}
		} else {
			left += j - i + 1
		}
		i = j + 1
	}
	s := strings.Join(parts, ", ")
	if left > 0 {
		s += fmt.Sprintf(", and %d more", left)
	}
	return s
}

// mapStoreColumns chooses the store pages drawn in the lower row of a small view's picture: the whole
// store when it has at most limit pages (so unused pages show too, as in TLPI's figure), plus any
// page past its end that the view shows; otherwise just the pages the view shows. Sorted.
func mapStoreColumns(pages []int64, views map[int64][]int64, st *mapStats, limit int) []int64 {
	var cols []int64
	if st.dataKnown && st.dataPages <= int64(limit) {
		for f := range st.dataPages {
			cols = append(cols, f)
		}
		for f := range views {
			if f >= st.dataPages {
				cols = append(cols, f)
			}
		}
	}
	if cols == nil || len(cols) > limit {
		cols = cols[:0]
		for f := range views {
			cols = append(cols, f)
		}
	}
	slices.Sort(cols)
	return cols
}

// mapItem is one line of a large view's listing: one run, or a stretch of runs of equal length whose
// store pages go in equal steps: -1 page for a reversed view, 0 for a repeated page or block, K for
// an interleave, minus the block for blocks in reverse order. Those are the layouts people write that
// make many runs, and each reads best as one line.
type mapItem struct {
	view, file int64 // first view page, its store page
	count      int64 // pages in each run
	runs       int   // runs covered (1 for a plain run)
	step       int64 // store page step from one run to the next
}

func (it mapItem) pages() int64 { return it.count * int64(it.runs) }

// nextMapItem returns the item starting at runs[i] (whose first view page is view) and the index after it.
func nextMapItem(runs []run.Run, i int, view int64) (mapItem, int) {
	r := runs[i]
	it := mapItem{view: view, file: r.File, count: r.Count, runs: 1}
	if i+1 >= len(runs) || runs[i+1].Count != r.Count {
		return it, i + 1
	}
	step := runs[i+1].File - r.File
	j := i + 1
	for j+1 < len(runs) && runs[j+1].Count == r.Count && runs[j+1].File-runs[j].File == step {
		j++
	}
	n := j - i + 1
	if n < 3 && step != 0 && (r.Count != 1 || step != -1) {
		return it, i + 1 // two runs in an arbitrary step read better as two lines
	}
	it.runs, it.step = n, step
	return it, j + 1
}

// mapSpan writes store pages a..b as "a" or "a-b".
func mapSpan(a, b int64) string {
	if a == b {
		return strconv.FormatInt(a, 10)
	}
	return fmt.Sprintf("%d-%d", a, b)
}

// text is the line for it, in two parts to align, e.g. "view 0-59999", "store 59999-0 (descending, 60000 runs)".
func (it mapItem) text(st *mapStats) (viewPart, filePart string) {
	viewPart = "view " + mapSpan(it.view, it.view+it.pages()-1)
	c, n := it.count, int64(it.runs)
	last := it.file + (n-1)*it.step // first store page of the last run
	switch {
	case n == 1:
		filePart = "store " + mapSpan(it.file, it.file+c-1)
	case it.step == 0 && c == 1:
		filePart = fmt.Sprintf("store %d (repeated, %d runs)", it.file, n)
	case it.step == 0:
		filePart = fmt.Sprintf("store %s (repeated, %d runs of %d pages)", mapSpan(it.file, it.file+c-1), n, c)
	case c == 1 && it.step == -1:
		filePart = fmt.Sprintf("store %d-%d (descending, %d runs)", it.file, last, n)
	case c == 1:
		filePart = fmt.Sprintf("store %d-%d (step %d, %d runs)", it.file, last, it.step, n)
	default:
		// The first two runs and the last say the pattern: "store 12-15, 8-11, ..., 0-3".
		sep := ", ..., "
		if n == 3 {
			sep = ", "
		}
		filePart = fmt.Sprintf("store %s, %s%s%s (%d runs of %d pages)", mapSpan(it.file, it.file+c-1),
			mapSpan(it.file+it.step, it.file+it.step+c-1), sep, mapSpan(last, last+c-1), n, c)
	}
	if st.past(max(it.file, last) + c - 1) {
		filePart += " (past the end of data)"
	}
	return viewPart, filePart
}

// textLarge lists a large view's runs: the first and last few lines of it, with the middle counted.
// Two passes (count, then print) keep memory constant whatever the view.
func textLarge(b *bytes.Buffer, runs []run.Run, st *mapStats) {
	total := 0
	var view int64
	for i := 0; i < len(runs); total++ {
		var it mapItem
		it, i = nextMapItem(runs, i, view)
		view += it.pages()
	}
	type line struct{ v, f string }
	var lines []line
	skipped, skippedRuns := false, 0
	var skipFrom, skipTo int64
	view = 0
	for i, n := 0, 0; i < len(runs); n++ {
		var it mapItem
		it, i = nextMapItem(runs, i, view)
		view += it.pages()
		if n < mapHeadItems || n >= total-mapTailItems || total <= mapHeadItems+mapTailItems+1 {
			v, f := it.text(st)
			lines = append(lines, line{v, f})
			continue
		}
		if !skipped {
			skipped, skipFrom = true, it.view
			lines = append(lines, line{}) // where the summary goes
		}
		skippedRuns += it.runs
		skipTo = it.view + it.pages() - 1
	}
	vw := 0
	for _, l := range lines {
		vw = max(vw, len(l.v))
	}
	if total == len(lines) {
		fmt.Fprintf(b, "%d runs (view pages -> the store pages they show; one VMA per run when mapped):\n", st.runs)
	} else {
		fmt.Fprintf(b, "%d runs (view pages -> the store pages they show; one VMA per run when mapped), the first %d and last %d lines:\n",
			st.runs, mapHeadItems, mapTailItems)
	}
	for _, l := range lines {
		if l.v == "" {
			fmt.Fprintf(b, "... %d more runs (view %d-%d) ...\n", skippedRuns, skipFrom, skipTo)
			continue
		}
		fmt.Fprintf(b, "%-*s -> %s\n", vw, l.v, l.f)
	}
}

// textCostLarge says what a large view costs the kernel before Linux 4.0 and since, with what the
// page-table entries held, bounded.
func textCostLarge(b *bytes.Buffer, runs []run.Run, st *mapStats, info Info) {
	c := st.cost
	b.WriteString("the same view before Linux 4.0 and since:\n")
	before, more := costBefore(c, false), []string(nil)
	if c.Nonlinear() {
		before += pteColumnIntro
		more = []string{pteColumn(runs)}
	}
	writeCost(b, before, more, costSince(c, false, info.Backend))
}

// frameName is how a frame is written: its number, or its label (FrameLabels).
func (i Info) frameName(f uint64) string {
	if i.FrameLabels {
		return fmt.Sprintf("f%d", f)
	}
	return fmt.Sprintf("%#x", f)
}

// textFrames shows which view pages share one physical frame: the kernel's own proof of aliasing, as
// opposed to what the layout says. Frame 0 is what pagemap reports for a page not in memory (or to a
// reader without the right to see frames), so it is never taken as a shared frame.
func textFrames(b *bytes.Buffer, st *mapStats, info Info) {
	if info.Frames == nil {
		if info.FramesNote != "" {
			fmt.Fprintf(b, "frames: unknown (%s)\n", info.FramesNote)
		}
		return
	}
	if int64(len(info.Frames)) != st.viewPages {
		fmt.Fprintf(b, "frames: unknown (%d frames given for %d view pages)\n", len(info.Frames), st.viewPages)
		return
	}
	fs := mapFrameSharing(info.Frames)
	b.WriteByte('\n')
	// The keys alone told a newcomer nothing: say what a frame is first.
	b.WriteString("frames: a physical frame is the page of RAM behind a view page (from /proc/self/pagemap);\n")
	b.WriteString("view pages with one frame are one page, not copies\n")
	fmt.Fprintf(b, "physical_frames: %d\n", fs.distinct)
	fmt.Fprintf(b, "shared_frames: %d\n", fs.shared)
	fmt.Fprintf(b, "view_pages_not_resident: %d\n", fs.absent)
	for _, f := range fs.first {
		fmt.Fprintf(b, "frame %s: view %s\n", info.frameName(f.frame), mapPageList(f.views, -1, 2*mapAliasItems))
	}
	if more := fs.shared - int64(len(fs.first)); more > 0 {
		fmt.Fprintf(b, "... %d more shared frames ...\n", more)
	}
}

// mapSharedFrame is a physical frame seen at several view pages.
type mapSharedFrame struct {
	frame uint64
	views []int64
}

type mapFramesSummary struct {
	distinct, shared, absent int64
	first                    []mapSharedFrame // the first few shared frames, in order of first view page
}

// mapFrameSharing counts distinct and shared frames with one sort of a copy (frames are arbitrary
// 64-bit numbers, and a map of a million of them costs more than the sort), then lists the first
// shared frames in view order.
func mapFrameSharing(frames []uint64) mapFramesSummary {
	var fs mapFramesSummary
	sorted := slices.Clone(frames)
	mapRadixSort(sorted, func(f uint64) uint64 { return f })
	for i := 0; i < len(sorted); {
		j := i
		for j < len(sorted) && sorted[j] == sorted[i] {
			j++
		}
		switch {
		case sorted[i] == 0:
			fs.absent += int64(j - i)
		case j-i > 1:
			fs.distinct++
			fs.shared++
		default:
			fs.distinct++
		}
		i = j
	}
	isShared := func(f uint64) bool {
		if f == 0 || fs.shared == 0 {
			return false
		}
		i, _ := slices.BinarySearch(sorted, f)
		return i+1 < len(sorted) && sorted[i+1] == f
	}
	index := map[uint64]int{}
	for v, f := range frames {
		k, ok := index[f]
		if !ok {
			if len(fs.first) == mapFrameLines || !isShared(f) {
				continue
			}
			k = len(fs.first)
			index[f] = k
			fs.first = append(fs.first, mapSharedFrame{frame: f})
		}
		fs.first[k].views = append(fs.first[k].views, int64(v))
	}
	return fs
}
