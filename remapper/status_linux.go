package remapper

// Status reports the view in force.
func (v *View) Status() Status {
	s := v.s
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := Status{
		Backend:   v.cur.backend,
		Reason:    v.cur.reason,
		Runs:      int64(len(v.cur.runs)),
		InForce:   v.cur.runs,
		ViewPages: v.cur.pages,
		DataBytes: s.size,
		ViewAddr:  uintptr(v.cur.base),
		Layouts:   v.layouts,
	}
	if n, err := s.k.MaxMapCount(); err == nil {
		st.MaxMapCount = n
	}
	st.VMAs = int64(len(v.mapsLinesLocked()))
	return st
}

// MapsLines returns the lines of /proc/self/maps that cover the view: the kernel's own record
// of the mapping (none for gather or an empty view).
func (v *View) MapsLines() []string {
	v.s.mu.RLock()
	defer v.s.mu.RUnlock()
	return v.mapsLinesLocked()
}

func (v *View) mapsLinesLocked() []string {
	if v.cur.base == nil {
		return nil
	}
	maps, err := readMaps()
	if err != nil {
		return nil
	}
	start := uintptr(v.cur.base)
	return mapsLinesIn(maps, start, start+v.cur.length)
}
