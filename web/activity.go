package web

import (
	"slices"
	"sort"
	"strings"

	"github.com/nlfs/nlfs/engine"
	"github.com/nlfs/nlfs/layout"
	"github.com/nlfs/nlfs/run"
)

// Bounds of what one stream records between two of its messages, whatever happens in the
// meantime: a 1 GiB cat, a million small writes, a stuck browser. Past them the record gets
// coarser (spans merge, a file is not named), never larger.
const (
	maxSpans    = 16      // page spans per list; more are merged with their nearest neighbour
	maxFiles    = 16      // files (data and views) whose activity is told apart
	maxRunsWalk = 1 << 16 // runs looked up per message for the store pages behind view reads (a few ms)
	maxChanged  = 16      // views named as having a new layout
	maxShows    = 8       // pieces of a view's pages told in view order (opReport.Shows)
)

// span is the pages [Lo, Hi).
type span struct{ Lo, Hi int64 }

// spans is a sorted set of disjoint, non-adjacent page spans, at most maxSpans of them: adding
// one more merges the two that are closest, so the set covers what happened and maybe a bit
// more, in bounded space.
type spans []span

func (p *spans) add(lo, hi int64) {
	if lo >= hi {
		return
	}
	s := *p
	// The first span that ends at or after lo: it and the following ones that start at or
	// before hi touch [lo, hi) and are merged with it.
	i := sort.Search(len(s), func(i int) bool { return s[i].Hi >= lo })
	j := i
	for j < len(s) && s[j].Lo <= hi {
		lo, hi = min(lo, s[j].Lo), max(hi, s[j].Hi)
		j++
	}
	s = slices.Replace(s, i, j, span{lo, hi})
	if len(s) > maxSpans {
		k := 0
		for m := 1; m < len(s)-1; m++ {
			if s[m+1].Lo-s[m].Hi < s[k+1].Lo-s[k].Hi {
				k = m
			}
		}
		s[k].Hi = s[k+1].Hi
		s = slices.Delete(s, k+1, k+2)
	}
	*p = s
}

// clip returns the spans below n.
func (p spans) clip(n int64) spans {
	out := make(spans, 0, len(p))
	for _, s := range p {
		if s.Lo < n {
			out = append(out, span{s.Lo, min(s.Hi, n)})
		}
	}
	return out
}

// pairs is the spans as [lo, hi) pairs for JSON.
func (p spans) pairs() [][2]int64 {
	out := make([][2]int64, len(p))
	for i, s := range p {
		out[i] = [2]int64{s.Lo, s.Hi}
	}
	return out
}

// fileKey names a file: data, or the view file of a view.
type fileKey struct {
	data bool
	view string
}

// fileActivity is what reached one file. Pages are the file's own (for data, store pages).
type fileActivity struct {
	readPages, writePages spans
	writeStore            spans // the store pages behind the writes (the engine tells them)
	readBytes, writeBytes int64
}

// pending is everything one stream has to tell since its last message.
type pending struct {
	any     bool // an event came
	changes bool // anything but reads: status may have changed
	names   bool // a view was made or removed
	// changed names the views with a new layout (MainView for the main one), at most
	// maxChanged; manyChanged says there were more.
	changed     []string
	manyChanged bool
	truncated   bool
	files       map[fileKey]*fileActivity // at most maxFiles
	unnamed     int64                     // events of files past maxFiles
}

// add records one engine event. It runs in the engine's callback, for every read and write of
// the mount: constant work, no allocation once the file is known. sizes are the files' sizes
// in bytes as last seen (sizes): a read is told as asked, and the kernel asks past the end
// (read-ahead, a cat's buffer), so it is clipped to what the file had.
func (p *pending) add(ev engine.Event, pageSize int64, sizes map[fileKey]int64) {
	p.any = true
	switch ev.Kind {
	case engine.LayoutApplied:
		p.changes = true
		if !slices.Contains(p.changed, ev.View) {
			if len(p.changed) < maxChanged {
				p.changed = append(p.changed, ev.View)
			} else {
				p.manyChanged = true
			}
		}
		return
	case engine.ViewCreated, engine.ViewRemoved:
		p.changes, p.names = true, true
		return
	case engine.Truncated:
		p.changes, p.truncated = true, true
		return
	case engine.LayoutRefused: // status's last_error changed
		p.changes = true
		return
	case engine.DataWritten, engine.ViewWritten:
		p.changes = true
	case engine.DataRead, engine.ViewRead:
	default:
		return
	}
	key := keyOf(ev)
	fa := p.file(key)
	if fa == nil {
		p.unnamed++
		return
	}
	end := ev.Off + ev.Len
	lo, hi := ev.Off/pageSize, (end+pageSize-1)/pageSize
	switch ev.Kind {
	case engine.DataRead, engine.ViewRead:
		if size, ok := sizes[key]; ok && end > size {
			end = max(size, ev.Off)
			hi = (end + pageSize - 1) / pageSize
		}
		fa.readPages.add(lo, hi)
		fa.readBytes += end - ev.Off
	default:
		fa.writePages.add(lo, hi)
		fa.writeBytes += ev.Len
		for _, x := range ev.Store {
			fa.writeStore.add(x.Off/pageSize, (x.Off+x.Len+pageSize-1)/pageSize)
		}
	}
}

// keyOf names the file an event of a read or write concerns.
func keyOf(ev engine.Event) fileKey {
	if ev.Kind == engine.DataWritten || ev.Kind == engine.DataRead {
		return fileKey{data: true}
	}
	return fileKey{view: ev.View}
}

// maxSized bounds the files whose sizes a stream keeps for clipping reads.
const maxSized = 64

// sizes returns the sizes in bytes of data and of the views (the first maxSized), as reads are
// clipped to.
func sizes(e *engine.Engine) map[fileKey]int64 {
	m := map[fileKey]int64{{data: true}: e.DataSize(), {view: engine.MainView}: e.Main().ViewSize()}
	for _, name := range e.ViewNames() {
		if len(m) >= maxSized {
			break
		}
		if v, ok := e.View(name); ok {
			m[fileKey{view: name}] = v.ViewSize()
		}
	}
	return m
}

func (p *pending) file(k fileKey) *fileActivity {
	if fa, ok := p.files[k]; ok {
		return fa
	}
	if p.files == nil {
		p.files = map[fileKey]*fileActivity{}
	}
	if len(p.files) >= maxFiles {
		return nil
	}
	fa := &fileActivity{}
	p.files[k] = fa
	return fa
}

// opReport is the reads or the writes of one file, in one message.
type opReport struct {
	Bytes int64      `json:"bytes"`
	Pages [][2]int64 `json:"pages"` // the file's pages, [lo, hi)
	Store [][2]int64 `json:"store"` // the store pages behind them
	// Partial: the store pages are those of the first runs only (a read across very many runs).
	Partial bool `json:"partial,omitempty"`
	// Shows is, for a view, the store pages behind Pages in view order, as the layout language
	// writes them ("2-0": view pages 0, 1, 2 show store pages 2, 1, 0), the first few pieces
	// then " …": Store is a sorted set, for lighting pages, and cannot say which shows which.
	Shows string `json:"shows,omitempty"`
}

// fileReport is the activity of one file in one message.
type fileReport struct {
	File  string    `json:"file"` // "data" or "view"
	View  string    `json:"view"` // for "view": the view's name ("" for the main view)
	Read  *opReport `json:"read,omitempty"`
	Write *opReport `json:"write,omitempty"`
}

// reports turns the record into the message's activity. The store pages behind view reads
// are looked up in the view's runs now: doing it in the engine's callback would cost the
// reader the time, and the layout rarely changes within a tenth of a second.
func (p *pending) reports(e *engine.Engine) []fileReport {
	keys := make([]fileKey, 0, len(p.files))
	for k := range p.files {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b fileKey) int {
		if a.data != b.data {
			if a.data {
				return -1
			}
			return 1
		}
		switch {
		case a.view < b.view:
			return -1
		case a.view > b.view:
			return 1
		}
		return 0
	})
	budget := maxRunsWalk
	out := make([]fileReport, 0, len(keys))
	for _, k := range keys {
		fa := p.files[k]
		fr := fileReport{File: "view", View: k.view}
		// A view's read and write are both told against one layout, looked up once.
		var runs []run.Run
		viewFound := false
		if k.data {
			fr.File = "data"
		} else if v, ok := e.View(k.view); ok {
			runs, viewFound = v.Snapshot().Runs, true
		}
		if read := fa.readPages; len(read) > 0 {
			// Clipped again to the sizes of now, in case a file shrank since its size was
			// last seen.
			op := &opReport{Bytes: fa.readBytes}
			if k.data {
				read = read.clip(e.DataPages())
				op.Pages = read.pairs()
				op.Store = op.Pages
			} else if viewFound {
				read = read.clip(run.ViewPages(runs))
				op.Pages = read.pairs()
				var st spans
				op.Partial = storeBehind(&st, runs, read, &budget)
				op.Store = st.pairs()
				op.Shows = showsInOrder(runs, read)
			}
			if len(read) > 0 && op.Store != nil {
				fr.Read = op
			}
		}
		if fr.Read == nil && len(fa.writePages) == 0 {
			continue
		}
		if len(fa.writePages) > 0 {
			fr.Write = &opReport{Bytes: fa.writeBytes, Pages: fa.writePages.pairs(), Store: fa.writeStore.pairs()}
			if viewFound {
				fr.Write.Shows = showsInOrder(runs, fa.writePages)
			}
		}
		out = append(out, fr)
	}
	return out
}

// storeBehind adds to st the store pages that the view pages in read show under runs, walking
// at most *budget runs; it reports whether it ran out before the end.
func storeBehind(st *spans, runs []run.Run, read spans, budget *int) (partial bool) {
	for _, sp := range read {
		i := sort.Search(len(runs), func(i int) bool { return runs[i].View+runs[i].Count > sp.Lo })
		for ; i < len(runs) && runs[i].View < sp.Hi; i++ {
			if *budget <= 0 {
				return true
			}
			*budget--
			r := runs[i]
			from, to := max(sp.Lo, r.View), min(sp.Hi, r.View+r.Count)
			st.add(r.File+from-r.View, r.File+to-r.View)
		}
	}
	return false
}

// showsInOrder says which store pages the view pages in pages show under runs, in view order, as
// the layout language writes them, the first maxShows pieces (a piece: the pages of one run in
// one span) then " …". Its cost is bounded by maxShows, whatever the view.
func showsInOrder(runs []run.Run, pages spans) string {
	var pieces []run.Run
	var view int64
	for _, sp := range pages {
		i := sort.Search(len(runs), func(i int) bool { return runs[i].View+runs[i].Count > sp.Lo })
		for ; i < len(runs) && runs[i].View < sp.Hi; i++ {
			if len(pieces) == maxShows {
				return strings.TrimSpace(layout.Canonical(pieces)) + " …"
			}
			r := runs[i]
			from, to := max(sp.Lo, r.View), min(sp.Hi, r.View+r.Count)
			pieces = append(pieces, run.Run{View: view, File: r.File + from - r.View, Count: to - from})
			view += to - from
		}
	}
	return strings.TrimSpace(layout.Canonical(pieces))
}
