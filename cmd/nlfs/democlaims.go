package main

// The claims: what the demos say the kernel did, each worked out from what the mount shows right
// then (the layout read back, the view's bytes, the vmas lines, the frames in map), never written
// in advance.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/nlfs/nlfs/layout"
	"github.com/nlfs/nlfs/remapper"
	"github.com/nlfs/nlfs/run"
)

// pagesOf reads back a view's layout (the store page at each view page) and the first byte of
// each of its pages as the view reads now.
func (s *session) pagesOf(viewFile string) ([]int64, []byte, error) {
	text, err := os.ReadFile(filepath.Join(filepath.Dir(s.path(viewFile)), "layout"))
	if err != nil {
		return nil, nil, fmt.Errorf("demo: %w", err)
	}
	l, err := layout.Parse(text, layout.Limits{DataPages: 1 << 52})
	if err != nil {
		return nil, nil, fmt.Errorf("demo: layout in force: %w", err)
	}
	view, err := os.ReadFile(s.path(viewFile))
	if err != nil {
		return nil, nil, fmt.Errorf("demo: %w", err)
	}
	runs := l.Runs
	if l.Identity {
		runs = run.Identity(int64(len(view)) / s.page) // it reads as a comment: the view is data
	}
	pages := run.Pages(runs)
	var letters []byte
	for v := range pages {
		if off := int64(v) * s.page; off < int64(len(view)) {
			letters = append(letters, view[off])
		}
	}
	if len(letters) != len(pages) {
		return nil, nil, fmt.Errorf("demo: %s holds %d bytes for %d pages", viewFile, len(view), len(pages))
	}
	return pages, letters, nil
}

// vmas shows the kernel's VMAs for a view and says what their columns are.
func (s *session) vmas(viewFile string) error {
	lines, err := s.vmasLines(viewFile)
	if err != nil {
		return err
	}
	runs := s.status(viewFile, "runs")
	s.say(fmt.Sprintf("%d VMAs for %s runs; columns: address range, permissions (s: shared), offset in the", len(lines), runs),
		"file (hex; store page × 4096), device, inode and the file: the store, a memfd")
	return nil
}

// vmasLines prints the vmas file of a view and returns its lines.
func (s *session) vmasLines(viewFile string) ([]string, error) {
	rel := strings.TrimSuffix(viewFile, "view") + "vmas"
	out, err := s.run("cat $d/"+rel, "")
	if err != nil {
		return nil, err
	}
	return strings.Split(strings.TrimSuffix(out, "\n"), "\n"), nil
}

// status returns one key of a view's status file.
func (s *session) status(viewFile, key string) string {
	st, _ := os.ReadFile(s.path(strings.TrimSuffix(viewFile, "view") + "status"))
	for _, line := range strings.Split(string(st), "\n") {
		if v, ok := strings.CutPrefix(line, key+": "); ok {
			return v
		}
	}
	return "?"
}

// offsetsClaim says what the reversed view's vmas lines show: how many, and the store page each
// maps, from its file offset (the third column).
func offsetsClaim(lines []string) []string {
	var pages []string
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) < 3 {
			return []string{fmt.Sprintf("%d VMAs", len(lines))}
		}
		off, err := strconv.ParseUint(f[2], 16, 64)
		if err != nil {
			return []string{fmt.Sprintf("%d VMAs", len(lines))}
		}
		pages = append(pages, strconv.FormatUint(off/uint64(remapper.PageSize()), 10))
	}
	return []string{
		fmt.Sprintf("%d VMAs, one per page: each page is a run of its own. The third column, the file", len(lines)),
		fmt.Sprintf("offset in hex, says which store page each maps: %s.", strings.Join(pages, ", ")),
	}
}

// reverseClaim says what became of the reversed view's VMAs once the identity was written back,
// from the two vmas listings: merged in place (the same start address) or replaced by a new
// mapping elsewhere.
func reverseClaim(before, after []string) []string {
	start := func(line string) string { a, _, _ := strings.Cut(line, "-"); return a }
	switch {
	case len(after) == 1 && len(before) > 0 && start(after[0]) == start(before[0]):
		return []string{fmt.Sprintf("1 VMA now, at the same address %s: the %d were merged in place", start(after[0]), len(before))}
	case len(after) == 1:
		return []string{
			fmt.Sprintf("1 VMA now, at %s, not %s: the %d VMAs were not merged but replaced by a", start(after[0]), start(before[0]), len(before)),
			"new mapping. nlfs builds each layout beside the one in force and swaps it in (readers never",
			"see half a layout), then unmaps the old one. Within one mapping, the kernel merges a remapped",
			"range with a neighbour whose file offsets it continues:",
		}
	}
	return []string{fmt.Sprintf("%d VMAs now", len(after))}
}

// ringClaim says where the record went, from the view and data as they read now.
func (s *session) ringClaim() error {
	view, err := os.ReadFile(s.path("view"))
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	data, err := os.ReadFile(s.path("data"))
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	pg := s.page
	whole := func(b []byte, c byte) bool { return len(b) == int(pg) && bytes.Count(b, []byte{c}) == int(pg) }
	if !whole(view[3*pg:4*pg], 'X') || !whole(view[4*pg:5*pg], 'Y') || !whole(data[3*pg:4*pg], 'X') || !whole(data[:pg], 'Y') || !bytes.Equal(view[:pg], view[4*pg:5*pg]) {
		return errors.New("demo: the record is not where the layout puts it")
	}
	s.say("The record's head (X) is in store page 3 and its tail (Y) in store page 0: the tail wrapped",
		"to the start of the store with no wrap-around code, and view page 0 shows it too.")
	return nil
}

var frameRow = regexp.MustCompile(`(?m)^view (\d+) -> store 0\b.*frame (0x[0-9a-f]+)`)

// frameClaim says whether the view pages given (of each view file, in order) share one physical
// frame, from the frames the views' map files list; or why the frames are not shown.
func (s *session) frameClaim(viewFiles []string, want []int64) error {
	frames := map[string]bool{}
	var where []string
	shown := 0
	for _, vf := range viewFiles {
		m, err := os.ReadFile(s.path(strings.TrimSuffix(vf, "view") + "map"))
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		if note := regexp.MustCompile(`(?m)^frames: unknown \((.*)\)$`).FindSubmatch(m); note != nil {
			s.say("The frames are not shown: "+string(note[1])+".",
				"As root, map shows the physical frame behind each view page, and these would have one.")
			return nil
		}
		var pages []string
		for _, r := range frameRow.FindAllSubmatch(m, -1) {
			frames[string(r[2])] = true
			pages = append(pages, string(r[1]))
		}
		name := "the main view"
		if vf != "view" {
			name = strings.TrimSuffix(vf, "/view")
		}
		switch len(pages) {
		case 0:
		case 1:
			where = append(where, fmt.Sprintf("view page %s of %s", pages[0], name))
		default:
			where = append(where, fmt.Sprintf("view pages %s of %s", strings.Join(pages, ", "), name))
		}
		shown += len(pages)
	}
	if shown != len(want) || len(frames) != 1 {
		return fmt.Errorf("demo: store page 0 is shown with frames %v at %v, not one frame at %d view pages", frames, where, len(want))
	}
	var frame string
	for f := range frames {
		frame = f
	}
	s.say(fmt.Sprintf("One physical frame, %s, behind %s:", frame, strings.Join(where, " and ")),
		"one page of RAM mapped at each, not copies (frames read from /proc/self/pagemap).")
	return nil
}
