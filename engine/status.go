package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"

	"github.com/nlfs/nlfs/internal/shellquote"
	"github.com/nlfs/nlfs/layout/render"
	"github.com/nlfs/nlfs/remapper"
)

// Field is one status key and its value: a string, an int64 or a []string.
type Field struct {
	Key   string
	Value any
}

// The values of the status key "layout": whether a layout is in force, and what that means for
// the view's size. The first word is the mode, for scripts.
const (
	LayoutPinned   = "pinned (set by a layout: the view keeps its pages when data's size changes)"
	LayoutIdentity = "identity (no layout: the view is data, page for page, and follows its size)"
)

// Status returns the view's status keys in order. The main view's also describe the store
// and the mount (store, views, web).
func (v *View) Status() []Field {
	st := v.rv.Status()
	v.mu.Lock()
	lastErr := v.lastError
	v.mu.Unlock()
	if lastErr == "" {
		lastErr = "none"
	}
	// The value says what it means: a newcomer reading "layout: pinned" had nothing to go on.
	mode := LayoutIdentity
	if v.Pinned() {
		mode = LayoutPinned
	}
	f := []Field{
		{"page_size", remapper.PageSize()},
		{"data_bytes", st.DataBytes},
		{"data_pages", v.e.store.DataPages()},
		{"view_pages", st.ViewPages},
		{"layout", mode},
		{"runs", st.Runs},
		{"backend", string(st.Backend)},
		{"backend_reason", st.Reason},
		{"vmas", st.VMAs},
	}
	// What the same view cost before Linux 4.0 (one VMA, the file offsets of the pages away from
	// their linear place in the page table) beside what remap_file_pages costs it now (one VMA
	// per run), as map draws it.
	for _, kv := range render.KernelCost(st.InForce).Keys() {
		f = append(f, Field{kv.Key, kv.Value})
	}
	f = append(f, []Field{
		{"max_map_count", st.MaxMapCount},
		{"generation", st.Layouts},
		{"last_error", OneLine(lastErr)},
	}...)
	if v.name != MainView {
		return append([]Field{{"view", v.name}}, f...)
	}
	v.e.viewsMu.Lock()
	web := v.e.webAddr
	v.e.viewsMu.Unlock()
	if web == "" {
		web = "off"
	}
	store := v.e.store.Path()
	if store == "" {
		store = "memfd"
	}
	readOnly := "no"
	if v.e.readOnly {
		readOnly = "yes"
	}
	return append(f,
		Field{"store", store},
		Field{"size_limit", v.e.store.SizeLimit()},
		Field{"read_only", readOnly},
		Field{"views", v.e.ViewNames()},
		Field{"web", web},
	)
}

// StatusText is the status file: one `key: value` per line (a list is joined by spaces,
// "none" when empty).
func (v *View) StatusText() []byte { return StatusText(v.Status()) }

// StatusJSON is status.json: the same keys as one JSON object, numbers as numbers, lists as
// arrays.
func (v *View) StatusJSON() []byte { return StatusJSON(v.Status()) }

// StatusText writes fields as the status file does; a caller that shows both forms (the live
// page) formats one Status with it and StatusJSON, so that the two agree.
func StatusText(fields []Field) []byte {
	var b bytes.Buffer
	for _, f := range fields {
		val := f.Value
		if list, ok := val.([]string); ok {
			val = strings.Join(list, " ")
			if len(list) == 0 {
				val = "none"
			}
		}
		if str, ok := val.(string); ok && strings.ContainsFunc(str, unicode.IsControl) {
			val = shellquote.Quote(str) // a store path with a newline: still one line
		}
		fmt.Fprintf(&b, "%s: %v\n", f.Key, val)
	}
	return b.Bytes()
}

// StatusJSON writes fields as status.json does.
func StatusJSON(fields []Field) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.Key)
		val, _ := json.Marshal(f.Value)
		b.Write(k)
		b.WriteByte(':')
		b.Write(val)
	}
	b.WriteString("}\n")
	return b.Bytes()
}
