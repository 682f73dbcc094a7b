package run

import (
	"cmp"
	"slices"
	"sort"
)

// sortByFile sorts runs by store page (then view page, so that the order is deterministic).
func sortByFile(runs []Run) {
	slices.SortFunc(runs, func(a, b Run) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.View, b.View))
	})
}

// searchFile returns the number of runs (sorted by File) whose File is below f.
func searchFile(runs []Run, f int64) int {
	return sort.Search(len(runs), func(i int) bool { return runs[i].File >= f })
}
