package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/nlfs/nlfs/internal/shellquote"
)

// Persistence of a named store (Options.StorePath = PATH). The store's bytes are the file
// PATH itself, written at once by every write, so a daemon killed at any moment loses none.
// Beside it, the directory PATH.nlfs holds what else a later daemon resumes:
//
//	PATH.nlfs/layout        the main view's layout, in canonical form ("" = the identity)
//	PATH.nlfs/views/NAME    each named view's
//	PATH.nlfs/daemon        who holds the store now (for the message a second daemon gets)
//
// Each file is replaced atomically (written beside, then renamed) every time a layout
// applies, so it always holds the last layout applied, whole. Nothing is fsynced: the files
// must survive the daemon, not the machine (a store on tmpfs does not survive that either).

// metaDir is the directory of a store's saved state.
func metaDir(storePath string) string { return storePath + ".nlfs" }

// ErrStoreInUse is what a second daemon of a store gets. It wraps EBUSY.
var ErrStoreInUse = fmt.Errorf("store in use: %w", syscall.EBUSY)

// storeInUse says who holds the store at path, as its holder wrote it down.
func storeInUse(path string) error {
	holder := "another nlfs daemon"
	if b, err := os.ReadFile(filepath.Join(metaDir(path), "daemon")); err == nil && len(b) > 0 {
		holder = strings.TrimSpace(string(b))
	}
	// A daemon whose mount was detached (nlfs umount --lazy, of a stopped one) holds the store
	// until it ends: unmounting is then no way to free it.
	return fmt.Errorf("store %s is held by %s (one daemon per store): unmount that one first, or end it if its mount was detached and it still runs: %w", shellquote.Quote(path), holder, ErrStoreInUse)
}

// claim makes the store's directory and writes down who holds it.
func (e *Engine) claim(holder string) error {
	dir := metaDir(e.store.Path())
	if err := os.MkdirAll(filepath.Join(dir, "views"), 0o700); err != nil {
		return fmt.Errorf("store %s: %w", shellquote.Quote(e.store.Path()), err)
	}
	if holder == "" {
		holder = fmt.Sprintf("the process %d", os.Getpid())
	}
	return writeAtomic(filepath.Join(dir, "daemon"), []byte(holder+"\n"))
}

// release says nobody holds the store any more: its daemon file goes (the lock on the store
// itself goes with the daemon's descriptor).
func (e *Engine) release() {
	os.Remove(filepath.Join(metaDir(e.store.Path()), "daemon"))
}

// forget removes what a failed start of a store it created left behind.
func (e *Engine) forget() {
	os.Remove(e.store.Path())
	os.RemoveAll(metaDir(e.store.Path()))
}

// layoutFile is where view v's layout is saved.
func (e *Engine) layoutFile(name string) string {
	if name == MainView {
		return filepath.Join(metaDir(e.store.Path()), "layout")
	}
	return filepath.Join(metaDir(e.store.Path()), "views", name)
}

// save writes view v's layout in force (nothing for a store without a file). A failure is
// recorded in v's status: the layout is in force but a later daemon would not resume it.
func (e *Engine) save(v *View) {
	if e.store.Path() == "" {
		return
	}
	e.saveMu.Lock()
	defer e.saveMu.Unlock()
	if v.rv.Closed() {
		return // removed meanwhile: its file is gone, or going
	}
	var text []byte
	if v.Pinned() {
		text = v.LayoutText()
	}
	if err := writeAtomic(e.layoutFile(v.name), text); err != nil {
		v.noteError("save layout", err)
	}
}

// saveAll saves every view's layout.
func (e *Engine) saveAll() {
	for _, v := range e.allViews() {
		e.save(v)
	}
}

// unsave removes a removed view's saved layout.
func (e *Engine) unsave(name string) {
	if e.store.Path() == "" {
		return
	}
	e.saveMu.Lock()
	defer e.saveMu.Unlock()
	if err := os.Remove(e.layoutFile(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		e.main.noteError("remove saved view", err)
	}
}

// resume brings back the views of a reopened store with their saved layouts. Whatever cannot
// be resumed is said in one line (Options.Note), never dropped silently, and stays saved: a
// layout that no longer applies (the file was shrunk behind the store's back) leaves its view
// at the identity, and is resumed by a later mount where it fits again (until a layout is
// applied to that view); a saved view that cannot be read, or whose name is not a view's, is
// left where it is.
func (e *Engine) resume() {
	path := e.store.Path()
	apply := func(v *View, what string, text []byte) {
		if err := v.ApplyText(context.Background(), text); err != nil {
			e.note(fmt.Sprintf("store %s: the saved layout of %s was not resumed (it is at the identity): %v", shellquote.Quote(path), what, err))
		}
	}
	switch text, err := os.ReadFile(e.layoutFile(MainView)); {
	case err == nil:
		apply(e.main, "the main view", text)
	case !errors.Is(err, os.ErrNotExist):
		e.note(fmt.Sprintf("store %s: the saved layout of the main view was not resumed (it is at the identity): %v", shellquote.Quote(path), err))
	}
	dir := filepath.Join(metaDir(path), "views")
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		e.note(fmt.Sprintf("store %s: the saved views were not resumed: %v", shellquote.Quote(path), err))
	}
	for _, ent := range entries {
		name := ent.Name()
		if strings.HasPrefix(name, tempPrefix) {
			os.Remove(filepath.Join(dir, name)) // a temporary file of an interrupted save
			continue
		}
		if !ent.Type().IsRegular() {
			e.note(fmt.Sprintf("store %s: %s is not a saved layout (not a regular file): ignored", shellquote.Quote(path), shellquote.Quote(filepath.Join(dir, name))))
			continue
		}
		text, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			e.note(fmt.Sprintf("store %s: saved view %q was not resumed: %v", shellquote.Quote(path), name, err))
			continue
		}
		v, err := e.createView(name, false)
		if err != nil {
			e.note(fmt.Sprintf("store %s: saved view %q was not resumed: %v", shellquote.Quote(path), name, err))
			continue
		}
		apply(v, fmt.Sprintf("view %q", name), text)
	}
}

// tempPrefix starts the name of a file being saved. No view name can start with it ('~' is
// not a letter, digit, '-', '_' or '.'), so a view called ".x" is resumed like any other.
const tempPrefix = "~"

// writeAtomic replaces name with data: written to a temporary file beside it, then renamed
// over it, so that a reader (or a daemon killed midway) finds the old content or the new,
// whole.
func writeAtomic(name string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), tempPrefix+filepath.Base(name)+".*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), name)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}
