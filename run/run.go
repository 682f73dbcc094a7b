// Package run defines Run, the one type through which the layout language (package layout)
// and the kernel side (package remapper) meet: a stretch of view pages that show consecutive
// store pages. It is plain data with no behaviour beyond a few pure helpers, so that neither
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
