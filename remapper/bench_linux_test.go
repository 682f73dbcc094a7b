package remapper

import (
	"testing"

	"golang.org/x/sys/unix"
)

const benchRuns = 60000

// benchApply times Apply of 60,000 single-page runs (a reversed 60,000-page store) with a
// backend; the identity restored between iterations is not timed.
func benchApply(b *testing.B, backend Backend) {
	m := newMapper(b, backend)
	if err := m.Truncate(benchRuns * ps); err != nil { // sparse, never touched
		b.Fatal(err)
	}
	runs := runsOf(reverse(benchRuns))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := m.Apply(runs); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if st := m.Status(); st.Backend != backend || (backend != Gather && st.VMAs != benchRuns) {
			b.Fatalf("status %+v", st)
		}
		if err := m.ApplyIdentity(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchRuns, "ns/run")
}

func BenchmarkApplyRemap(b *testing.B)  { benchApply(b, Remap) }
func BenchmarkApplyMMap(b *testing.B)   { benchApply(b, MMap) }
func BenchmarkApplyGather(b *testing.B) { benchApply(b, Gather) }

// BenchmarkBareRemapLoop is the floor for BenchmarkApplyRemap: a fresh linear mapping and a
// bare loop of remap_file_pages over the same runs (unmapping is not timed).
func BenchmarkBareRemapLoop(b *testing.B) {
	fd := newFile(b, 0)
	if err := unix.Ftruncate(fd, benchRuns*ps); err != nil {
		b.Fatal(err)
	}
	runs := runsOf(reverse(benchRuns))
	length := uintptr(benchRuns * ps)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		base, err := unix.MmapPtr(fd, 0, nil, length, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range runs {
			if err := RemapFilePages(uintptr(base)+uintptr(r.View*ps), uintptr(r.Count*ps), 0, uintptr(r.File), unix.MAP_NONBLOCK); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		unix.MunmapPtr(base, length)
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchRuns, "ns/run")
}

// BenchmarkReadView reads a reversed 256-page (1 MiB) view in 128 KiB chunks, the size of a
// large FUSE read.
func BenchmarkReadView(b *testing.B) {
	const pages = 256
	for _, backend := range mappedBackends {
		b.Run(string(backend), func(b *testing.B) {
			m := newMapper(b, backend)
			fillStore(b, m, pages)
			apply(b, m, reverse(pages))
			buf := make([]byte, 128<<10)
			b.SetBytes(pages * ps)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for off := int64(0); off < pages*ps; off += int64(len(buf)) {
					if _, err := m.ReadView(buf, off); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkReadViewIdentity is the same read over the identity view (one run).
func BenchmarkReadViewIdentity(b *testing.B) {
	const pages = 256
	for _, backend := range mappedBackends {
		b.Run(string(backend), func(b *testing.B) {
			m := newMapper(b, backend)
			fillStore(b, m, pages)
			buf := make([]byte, 128<<10)
			b.SetBytes(pages * ps)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for off := int64(0); off < pages*ps; off += int64(len(buf)) {
					if _, err := m.ReadView(buf, off); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkViewSlices is what the daemon does per 1 MiB FUSE read now: lend the bytes of a
// reversed 256-page view (256 runs) as slices of the mappings, no copy (the kernel copies
// them into the reader's buffer). Compare BenchmarkReadView, the copy it replaced.
func BenchmarkViewSlices(b *testing.B) {
	const pages = 256
	for _, backend := range mappedBackends {
		b.Run(string(backend), func(b *testing.B) {
			m := newMapper(b, backend)
			fillStore(b, m, pages)
			apply(b, m, reverse(pages))
			b.SetBytes(pages * ps)
			b.ReportAllocs()
			for b.Loop() {
				l, err := m.ViewSlices(0, pages*int(ps))
				if err != nil || l.N != pages*int(ps) {
					b.Fatal(err)
				}
				l.Release()
			}
		})
	}
}

// BenchmarkWriteData rewrites 1 MiB of existing store pages, as a FUSE write of data does:
// one copy into the store mapping.
func BenchmarkWriteData(b *testing.B) {
	m := newMapper(b, Auto)
	fillStore(b, m, 256)
	buf := make([]byte, 256*ps)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if _, err := m.WriteData(buf, 0); err != nil {
			b.Fatal(err)
		}
	}
}
