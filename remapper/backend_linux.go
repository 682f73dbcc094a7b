package remapper

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// vmaMargin is the number of VMAs left to the rest of the process (Go runtime, libraries,
// other mappings made while a layout is built) when deciding whether a layout fits.
const vmaMargin = 1024

// probe calls remap_file_pages once on a scratch two-page mapping of the (empty) store. The
// pages lie past EOF and are never touched.
func (s *Store) probe() error {
	ps := uintptr(pageSize)
	base, err := s.k.Mmap(s.fd, 0, nil, 2*ps, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("scratch mapping: %w", err)
	}
	defer unix.MunmapPtr(base, 2*ps)
	return s.k.RemapFilePages(uintptr(base), ps, 0, 1, unix.MAP_NONBLOCK)
}

// mappingBackend returns the backend used for a view that fits the VMA budget, and why.
func (s *Store) mappingBackend() (Backend, string) {
	if s.forced != Auto {
		return s.forced, "forced by --backend " + string(s.forced)
	}
	return s.mapped, s.probeReason
}

// vmaBudget returns how many VMAs a new mapping may use: vm.max_map_count minus the VMAs the
// process holds now (which include every view's mapping in force, the one being replaced
// too: old and new both exist during the swap) minus a safety margin.
func (s *Store) vmaBudget() (budget int64, detail string, err error) {
	maxCount, err := s.k.MaxMapCount()
	if err != nil {
		return 0, "", fmt.Errorf("read vm.max_map_count: %w", err)
	}
	inUse, err := countVMAs()
	if err != nil {
		return 0, "", fmt.Errorf("count VMAs in /proc/self/maps: %w", err)
	}
	budget = max(0, maxCount-inUse-vmaMargin)
	detail = fmt.Sprintf("vm.max_map_count %d - %d VMAs in use - margin %d", maxCount, inUse, vmaMargin)
	return budget, detail, nil
}

// chooseBackend picks the backend for a layout of nruns runs. A forced mapping backend whose
// layout exceeds the VMA budget is an error, reported before anything is touched. Needs
// applyMu held, so that no other view's mapping changes the budget meanwhile.
func (s *Store) chooseBackend(nruns int64) (Backend, string, error) {
	b, reason := s.mappingBackend()
	if b == Gather || nruns == 0 {
		return b, reason, nil
	}
	budget, detail, err := s.vmaBudget()
	if err != nil {
		if s.forced == Auto {
			return Gather, fmt.Sprintf("cannot budget VMAs (%v), using gather", err), nil
		}
		return "", "", err
	}
	if nruns <= budget {
		return b, reason, nil
	}
	if s.forced == Auto {
		return Gather, fmt.Sprintf("runs %d exceed the VMA budget %d (%s)", nruns, budget, detail), nil
	}
	return "", "", fmt.Errorf("backend %s: the layout needs %d VMAs (one per run) but the VMA budget is %d (%s); use --backend auto or gather: %w",
		b, nruns, budget, detail, syscall.ENOMEM)
}
