package layout

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/nlfs/nlfs/run"
)

// refParse is a deliberately naive reading of the layout language, written from docs/layout.md
// apart from the Parser: it splits lines and words, expands every entry into pages and applies remap lines
// one page at a time. It only says whether the text is valid and which pages it shows, so that the
// property and fuzz tests can compare Parse against it. It suits small limits only.
func refParse(src string, lim Limits) (pages []int64, identity, ok bool) {
	maxView := lim.MaxViewPages
	if maxView <= 0 {
		maxView = DefaultMaxViewPages
	}
	var remaps [][3]int64
	entries, listed := 0, false
	for _, line := range strings.Split(src, "\n") {
		line, _, _ = strings.Cut(line, "#")
		words := strings.FieldsFunc(line, func(r rune) bool { return strings.ContainsRune(" \t,\r", r) })
		for i, w := range words {
			entries++
			if w == "remap" {
				if i != 0 || len(words) != 4 {
					return nil, false, false
				}
				var args [3]int64
				for j := range args {
					if args[j], ok = refNumber(words[1+j]); !ok {
						return nil, false, false
					}
				}
				if args[1] == 0 || args[2]+args[1] > lim.DataPages {
					return nil, false, false
				}
				remaps = append(remaps, args)
				break
			}
			m := refEntry.FindStringSubmatch(w)
			if m == nil {
				return nil, false, false
			}
			first, ok1 := refNumber(m[1])
			last, ok2, repeat, ok3 := first, true, int64(1), true
			if m[2] != "" {
				last, ok2 = refNumber(m[2])
			}
			if m[3] != "" {
				repeat, ok3 = refNumber(m[3])
			}
			if !ok1 || !ok2 || !ok3 || repeat == 0 || first >= lim.DataPages || last >= lim.DataPages {
				return nil, false, false
			}
			n := max(first-last, last-first) + 1
			if repeat > (maxView-int64(len(pages)))/n {
				return nil, false, false
			}
			for range repeat {
				for f := first; f != last; f += (last - first) / (n - 1) {
					pages = append(pages, f)
				}
				pages = append(pages, last)
			}
			listed = true
		}
	}
	if entries == 0 {
		return nil, true, true
	}
	if !listed {
		if lim.DataPages > maxView {
			return nil, false, false
		}
		pages = run.Pages(run.Identity(lim.DataPages))
	}
	for _, r := range remaps {
		if r[0]+r[1] > int64(len(pages)) {
			return nil, false, false
		}
		for i := range r[1] {
			pages[r[0]+i] = r[2] + i
		}
	}
	return pages, false, true
}

var refEntry = regexp.MustCompile(`^(0[xX][0-9a-fA-F]+|[0-9]+)(?:-(0[xX][0-9a-fA-F]+|[0-9]+))?(?:\*(0[xX][0-9a-fA-F]+|[0-9]+))?$`)

func refNumber(s string) (int64, bool) {
	base := 10
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		s, base = s[2:], 16
	}
	v, err := strconv.ParseUint(s, base, 64)
	return int64(v), err == nil && v <= 1<<52
}
