// Package run defines Run, the one type through which the layout language (package layout)
// and the kernel side (package remapper) meet: a stretch of view pages that show store pages
// ascending by one. It is plain data with no behaviour beyond a few pure helpers, so that neither
// of those packages needs the other.
package run

// Run says that view pages View..View+Count-1 show store pages File..File+Count-1.
//
// A view is a list of runs sorted by View and contiguous from view page 0. Runs are maximal
// when no run's store pages continue the previous run's (File == prev.File+prev.Count): the
// kernel holds one VMA per maximal run of a mapped view.
type Run struct{ View, File, Count int64 }

// Identity returns the runs of the identity view over n pages: one run, or nil for n <= 0.
func Identity(n int64) []Run {
	if n <= 0 {
		return nil
	}
	return []Run{{View: 0, File: 0, Count: n}}
}

// Pages expands runs into the page list: the store page shown at each view page.
func Pages(runs []Run) []int64 {
	var n int64
	for _, r := range runs {
		n += max(r.Count, 0)
	}
	pages := make([]int64, 0, n)
	for _, r := range runs {
		for i := range r.Count {
			pages = append(pages, r.File+i)
		}
	}
	return pages
}

// ViewPages returns the pages of the view the runs make up (the sum of their counts).
func ViewPages(runs []Run) int64 {
	var n int64
	for _, r := range runs {
		n += r.Count
	}
	return n
}

// Index answers the inverse question of a view: which view pages show given store pages. It
// holds the runs sorted by store page with, for each, the furthest store page any run up to
// it reaches, so that a query walks back only over runs that can overlap it.
type Index struct {
	byFile []Run   // the runs, sorted by File
	reach  []int64 // reach[i] = max(File+Count) over byFile[:i+1]
}

// NewIndex indexes runs (which it does not modify).
func NewIndex(runs []Run) *Index {
	x := &Index{byFile: make([]Run, 0, len(runs))}
	for _, r := range runs {
		if r.Count > 0 {
			x.byFile = append(x.byFile, r)
		}
	}
	sortByFile(x.byFile)
	x.reach = make([]int64, len(x.byFile))
	var reach int64
	for i, r := range x.byFile {
		reach = max(reach, r.File+r.Count)
		x.reach[i] = reach
	}
	return x
}

// Views calls fn for every stretch of view pages [view, view+count) that shows store pages in
// [lo, hi), in no particular order.
func (x *Index) Views(lo, hi int64, fn func(view, count int64)) {
	if lo >= hi {
		return
	}
	// The runs starting below hi, walked back while some run at or before them reaches lo.
	i := searchFile(x.byFile, hi)
	for j := i - 1; j >= 0 && x.reach[j] > lo; j-- {
		r := x.byFile[j]
		from, to := max(r.File, lo), min(r.File+r.Count, hi)
		if from < to {
			fn(r.View+from-r.File, to-from)
		}
	}
}
