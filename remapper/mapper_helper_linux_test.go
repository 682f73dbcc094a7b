package remapper

// Mapper is, for these tests, a store with one view: what a mount without named views is.
// Its methods are the Store's and the View's (Close closes both).
type Mapper struct {
	*Store
	*View
}

// New makes a Mapper: a new store and its first view. Its Kernel, unless opts names one, is
// seams.
func New(opts Options) (*Mapper, error) {
	if opts.Kernel == nil {
		opts.Kernel = seams
	}
	s, err := NewStore(opts)
	if err != nil {
		return nil, err
	}
	v, err := s.NewView()
	if err != nil {
		s.Close()
		return nil, err
	}
	return &Mapper{Store: s, View: v}, nil
}

// Close closes the view and the store.
func (m *Mapper) Close() error { return m.Store.Close() }

// WriteView is View.WriteView without the extents, as most tests want it.
func (m *Mapper) WriteView(p []byte, off int64) (int, error) {
	n, _, err := m.View.WriteView(p, off)
	return n, err
}
