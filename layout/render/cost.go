package render

import (
	"strconv"
	"strings"

	"github.com/nlfs/nlfs/run"
)

// What a view costs the kernel, before Linux 4.0 and since: the lesson every drawing ends with.
//
// Before 4.0 (mm/fremap.c), remap_file_pages rearranged pages inside the one VMA of a shared
// mapping. The VMA was marked VM_NONLINEAR, since its start offset no longer said where each page
// came from; each page's file offset was kept in the page table instead (in a pte_file entry while
// the page was out of memory), so any permutation of any number of pages cost one VMA. (That is for
// a file on tmpfs, as nlfs's store is; for a file whose dirty pages the kernel accounts, such as one
// on a disk filesystem, fremap.c already fell back to one linear VMA per call.) The call was
// deprecated in Linux 3.16 (man 2 remap_file_pages) and, in 4.0, replaced by an emulation (kernel
// commit "mm: replace remap_file_pages() syscall with emulation"; Documentation/mm/
// remap_file_pages.rst): SYSCALL_DEFINE5(remap_file_pages) in mm/mmap.c now calls do_mmap with
// MAP_FIXED|MAP_POPULATE over the range, so each run becomes a VMA of its own, and the count meets
// the VMA limit (vm.max_map_count).

// Cost is what one view costs the kernel, before Linux 4.0 and since.
type Cost struct {
	// VMAsBefore4 is 1 for any view with pages: one VMA, nonlinear when the view has more than one
	// run (a single run is a plain mapping at its offset).
	VMAsBefore4 int64
	// PTEOffsetsBefore4 is how many page-table entries held a file offset: every page of a
	// nonlinear VMA, none of a linear one.
	PTEOffsetsBefore4 int64
	// VMAsSince4 is one VMA per run: what remap_file_pages (or mmap) makes of the view today.
	VMAsSince4 int64
}

// Nonlinear reports whether the view needed a nonlinear VMA before 4.0.
func (c Cost) Nonlinear() bool { return c.PTEOffsetsBefore4 > 0 }

// KernelCost is the cost of a view of viewPages pages in runs maximal runs.
func KernelCost(viewPages, runs int64) Cost {
	switch {
	case viewPages <= 0:
		return Cost{}
	case runs <= 1:
		return Cost{VMAsBefore4: 1, VMAsSince4: runs}
	}
	return Cost{VMAsBefore4: 1, PTEOffsetsBefore4: viewPages, VMAsSince4: runs}
}

// KeyValue is one figure of status: a key and a number.
type KeyValue struct {
	Key   string
	Value int64
}

// Keys are the status keys of the cost, in order, with their values: `status`, `status.json` and
// the totals of `map` all name them so.
func (c Cost) Keys() []KeyValue {
	return []KeyValue{
		{"vmas_before_linux_4_0", c.VMAsBefore4},
		{"pte_offsets_before_linux_4_0", c.PTEOffsetsBefore4},
		{"vmas_since_linux_4_0", c.VMAsSince4},
	}
}

// plural is "1 VMA", "3 VMAs".
func plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.FormatInt(n, 10) + " " + word + "s"
}

// costBefore says what the view cost before 4.0, in words: a first line, and for a nonlinear view
// what the page-table entries held ("" when linear), which the caller completes.
func costBefore(c Cost) (string, string) {
	switch {
	case c.VMAsBefore4 == 0:
		return "no VMA: the view is empty", ""
	case !c.Nonlinear():
		return "1 VMA, linear: its start offset says where every page is, no PTE holds one", ""
	}
	return "1 VMA, nonlinear: each page-table entry (PTE) held its page's file offset",
		plural(c.PTEOffsetsBefore4, "PTE")
}

// costSince says what it costs since 4.0; kernel tells whether the VMAs are the ones vmas lists,
// and backend which backend serves the view ("" when unknown).
func costSince(c Cost, kernel bool, backend string) string {
	s := plural(c.VMAsSince4, "VMA") + ", one per run"
	switch {
	case kernel:
		s += ", as vmas lists them"
	case backend == "gather":
		s += " (the gather backend maps none: it copies run by run)"
	}
	return s
}

// pageEnds returns the first n and the last m store pages of the view (fewer when the view is
// shorter: then tail is nil and head holds them all), without expanding its runs.
func pageEnds(runs []run.Run, n, m int) (head, tail []int64) {
	total := run.ViewPages(runs)
	if total <= int64(n+m) {
		return run.Pages(runs), nil
	}
	for _, r := range runs {
		for i := int64(0); i < r.Count && len(head) < n; i++ {
			head = append(head, r.File+i)
		}
		if len(head) == n {
			break
		}
	}
	for k := len(runs) - 1; k >= 0 && len(tail) < m; k-- {
		r := runs[k]
		for i := r.Count - 1; i >= 0 && len(tail) < m; i-- {
			tail = append(tail, r.File+i)
		}
	}
	for i, j := 0, len(tail)-1; i < j; i, j = i+1, j-1 {
		tail[i], tail[j] = tail[j], tail[i]
	}
	return head, tail
}

// pteColumn writes what a large view's page-table entries held before 4.0, bounded: the file
// offsets (in store pages) of its first and last view pages.
func pteColumn(runs []run.Run) string {
	head, tail := pageEnds(runs, 8, 4)
	words := func(pages []int64) string {
		s := make([]string, len(pages))
		for i, p := range pages {
			s[i] = strconv.FormatInt(p, 10)
		}
		return strings.Join(s, " ")
	}
	if tail == nil {
		return words(head)
	}
	return words(head) + " … " + words(tail)
}
