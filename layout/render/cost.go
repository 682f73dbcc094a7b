package render

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nlfs/nlfs/run"
)

// What a view costs the kernel, before Linux 4.0 and since: the lesson every drawing ends with.
//
// Before 4.0 (mm/fremap.c, deleted by the commit "mm: replace remap_file_pages() syscall with
// emulation"), remap_file_pages rearranged pages inside the one VMA of a shared mapping. A call
// whose first page was already at its linear place (pgoff == linear_page_index) on a VMA not yet
// nonlinear returned at once, doing nothing. Any other call set VM_NONLINEAR on the VMA — which
// nothing cleared until the mapping was unmapped ("We can't clear VM_NONLINEAR…", fremap.c) — and
// wrote, with install_file_pte, a file PTE for every page of its range: a page-table entry that
// maps nothing and holds the page's file offset, for the next fault to read (do_nonlinear_fault in
// mm/memory.c). Without MAP_NONBLOCK the call faulted the pages in at once, and then the PTEs
// pointed at the pages; when reclaim later unmapped such a page, try_to_unmap_cluster (mm/rmap.c)
// wrote a file PTE back only where the page's offset differed from its linear one. A fault on an
// empty PTE reads the linear offset from the VMA's start, nonlinear or not (do_linear_fault). So
// the page table had to keep a file offset exactly for the view pages away from their linear
// place, and any permutation of any number of pages cost one VMA. (That is for a file on tmpfs, as
// nlfs's store is; for a file whose dirty pages the kernel accounts, such as one on a disk
// filesystem, fremap.c already made one linear VMA per call.) The call was deprecated in Linux 3.16
// (man 2 remap_file_pages) and, in 4.0, replaced by an emulation (Documentation/mm/
// remap_file_pages.rst): SYSCALL_DEFINE5(remap_file_pages) in mm/mmap.c calls do_mmap with
// MAP_FIXED over the range, so each run becomes a VMA of its own, and the count meets the VMA
// limit (vm.max_map_count).
//
// The linear place of view page N is store page N: nlfs builds a view (and the steps draw it) as
// the store mapped in order from store page 0 over the view's pages, then one call per run not
// already in place. So the cost of a view before 4.0 is the cost of those calls.

// Cost is what one view costs the kernel, before Linux 4.0 and since.
type Cost struct {
	// VMAsBefore4 is 1 for any view with pages: one VMA, nonlinear when some page is away
	// from its linear place.
	VMAsBefore4 int64
	// PTEOffsetsBefore4 is how many page-table entries had to hold a file offset (file PTEs):
	// the view pages away from their linear place, which the calls that build the view wrote,
	// one per page.
	PTEOffsetsBefore4 int64
	// VMAsSince4 is one VMA per run: what remap_file_pages (or mmap) makes of the view today.
	VMAsSince4 int64
}

// Nonlinear reports whether the view needed a nonlinear VMA before 4.0.
func (c Cost) Nonlinear() bool { return c.PTEOffsetsBefore4 > 0 }

// KernelCost is the cost of the view of runs, read in order from view page 0 (their View fields
// are not consulted). Linear in the runs.
func KernelCost(runs []run.Run) Cost {
	var c Cost
	var view int64
	for _, r := range runs {
		if r.Count <= 0 {
			continue
		}
		if r.File != view {
			c.PTEOffsetsBefore4 += r.Count
		}
		view += r.Count
		c.VMAsSince4++
	}
	if view > 0 {
		c.VMAsBefore4 = 1
	}
	return c
}

// awayFromPlace reports whether view page v, showing store page f, is away from its linear place.
func awayFromPlace(v, f int64) bool { return v != f }

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

// Plural is "1 VMA", "3 VMAs": n and word, with an s unless n is 1.
func Plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.FormatInt(n, 10) + " " + word + "s"
}

// costBefore says in words what the view cost before 4.0. sticky says that earlier calls made
// the VMA nonlinear (VM_NONLINEAR stayed set until the mapping was unmapped), whatever the pages
// show now; the status and map of a view, built as nlfs builds it, pass false.
func costBefore(c Cost, sticky bool) string {
	switch {
	case c.VMAsBefore4 == 0:
		return "no VMA: the view is empty"
	case c.Nonlinear():
		return fmt.Sprintf("1 VMA, nonlinear. %s: the page-table entries (PTEs) of the view pages away from their linear place ("+glued("store page N")+" at "+glued("view page N")+") held their file offsets",
			Plural(c.PTEOffsetsBefore4, "file PTE"))
	case sticky:
		return "1 VMA, still nonlinear: VM_NONLINEAR stayed set until the mapping was unmapped; every page is back in its linear place, so no PTE needs to hold an offset"
	}
	return "1 VMA, linear: its start offset says where every page is; no PTE holds an offset"
}

// pteRowNote explains the row of file PTEs drawn under the before-4.0 VMA.
const pteRowNote = "row file PTE: the offsets held, in store pages; -: a page in place"

// pteCells are the cells of the row of file PTEs of view pages from, from+1, …: the store
// page a view page away from its linear place shows, "-" for one in place.
func pteCells(pages []int64, from int64) []string {
	cells := make([]string, len(pages))
	for i, f := range pages {
		cells[i] = "-"
		if awayFromPlace(from+int64(i), f) {
			cells[i] = strconv.FormatInt(f, 10)
		}
	}
	return cells
}

// glue joins the words of a phrase that wrapWords keeps on one line; unglued undoes it.
const glue = "\u00a0"

func glued(phrase string) string { return strings.ReplaceAll(phrase, " ", glue) }
func unglued(s string) string    { return strings.ReplaceAll(s, glue, " ") }

// wrapWords breaks s into lines of at most width characters, between words (not inside a glued
// phrase).
func wrapWords(s string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Split(s, " ") {
		if w == "" {
			continue
		}
		switch {
		case line == "":
			line = w
		case utf8.RuneCountInString(line)+1+utf8.RuneCountInString(w) <= width:
			line += " " + w
		default:
			lines = append(lines, line)
			line = w
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	for i := range lines {
		lines[i] = unglued(lines[i])
	}
	return lines
}

// writeCost writes "before 4.0: …" and "since 4.0:  …", the first wrapped to the text map's width
// under its label and followed by the lines of more, indented as it is.
func writeCost(b *bytes.Buffer, before string, more []string, since string) {
	const label = "before 4.0: "
	for i, l := range wrapWords(before, mapTextWidth-len(label)) {
		if i == 0 {
			b.WriteString(label)
		} else {
			b.WriteString(strings.Repeat(" ", len(label)))
		}
		b.WriteString(l + "\n")
	}
	for _, l := range more {
		b.WriteString(strings.Repeat(" ", len(label)) + l + "\n")
	}
	fmt.Fprintf(b, "since 4.0:  %s\n", since)
}

// costSince says what it costs since 4.0; kernel tells whether the VMAs are the ones vmas lists,
// and backend which backend serves the view ("" when unknown).
func costSince(c Cost, kernel bool, backend string) string {
	s := Plural(c.VMAsSince4, "VMA") + ", one per run"
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

// pteColumnIntro introduces pteColumn after what a large view cost before 4.0.
const pteColumnIntro = "; from view page 0, the offsets they held, in store pages (-: in place, none):"

// pteColumn writes what a large view's page-table entries held before 4.0, bounded: the file
// offsets (in store pages) of its first and last view pages, "-" for a page in its linear place.
func pteColumn(runs []run.Run) string {
	head, tail := pageEnds(runs, 8, 4)
	s := strings.Join(pteCells(head, 0), " ")
	if tail != nil {
		s += " … " + strings.Join(pteCells(tail, run.ViewPages(runs)-int64(len(tail))), " ")
	}
	return s
}
