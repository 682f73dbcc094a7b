package render

import (
	"math"
	"slices"
)

// The arrows of the small picture, from each store page to each view page that shows it. Drawn
// straight, the arrows of a permutation as symmetric as TLPI's 2 1 0 all cross at one point and
// their heads bunch together. So each arrow is routed at right angles: it rises from its store
// page, runs along a lane of its own between the two rows, and rises into the middle of its view
// page. No two arrows share a lane or a vertical stretch (the arrows from one store page leave it
// side by side, on the side they go to), so every crossing is two lines at right angles, and the
// lanes are ordered to cross as little as they can.

// svgArrow is one arrow: from store page f, leaving the store row at x sx, to view page v,
// entering it at x ex; lane is its lane (0 nearest the store), -1 for an arrow straight up.
type svgArrow struct {
	v      int
	f      int64
	sx, ex float64
	lane   int
}

// svgRoute routes the arrows of a small view: pages[v] is the store page view page v shows,
// viewX[v] the left of its cell, at[f] the middle of store page f's cell. It returns the arrows in
// view order and the number of lanes they use.
func svgRoute(pages []int64, viewX []float64, at map[int64]float64, cell float64) ([]svgArrow, int) {
	arrows := make([]svgArrow, len(pages))
	sides := map[int64][2][]int{} // per store page, its arrows going left and going right
	for v, f := range pages {
		a := svgArrow{v: v, f: f, sx: at[f], ex: viewX[v] + cell/2, lane: -1}
		arrows[v] = a
		switch side := sides[f]; {
		case a.ex < a.sx-0.5:
			side[0] = append(side[0], v)
			sides[f] = side
		case a.ex > a.sx+0.5:
			side[1] = append(side[1], v)
			sides[f] = side
		}
	}
	// Arrows leaving one store page on one side: the one going farthest leaves outermost.
	var bent []int
	for _, side := range sides {
		for dir, vs := range side {
			slices.SortFunc(vs, func(a, b int) int {
				if d := math.Abs(arrows[b].ex-arrows[b].sx) - math.Abs(arrows[a].ex-arrows[a].sx); d != 0 {
					return int(math.Copysign(1, d))
				}
				return a - b
			})
			for k, v := range vs {
				d := cell * (0.12 + 0.26*float64(len(vs)-k)/float64(len(vs)+1))
				if dir == 0 {
					d = -d
				}
				arrows[v].sx += d
				bent = append(bent, v)
			}
		}
	}
	// Lanes: shortest runs nearest the store first (ties in view order), then neighbours swapped
	// while that crosses less.
	span := func(v int) float64 { return math.Abs(arrows[v].ex - arrows[v].sx) }
	slices.SortFunc(bent, func(a, b int) int {
		if d := span(a) - span(b); math.Abs(d) > 1e-9 {
			return int(math.Copysign(1, d))
		}
		return a - b
	})
	for pass := 0; pass < len(bent); pass++ {
		swapped := false
		for i := 0; i+1 < len(bent); i++ {
			lo, hi := arrows[bent[i]], arrows[bent[i+1]]
			if svgCrossings(hi, lo) < svgCrossings(lo, hi) {
				bent[i], bent[i+1] = bent[i+1], bent[i]
				swapped = true
			}
		}
		if !swapped {
			break
		}
	}
	for k, v := range bent {
		arrows[v].lane = k
	}
	return arrows, len(bent)
}

// svgCrossings counts how often two bent arrows cross when lower runs in a lane nearer the store
// than upper: lower's last rise crosses upper's lane where it lies under it, and upper's first
// rise crosses lower's lane where it starts over it. Nothing else can cross.
func svgCrossings(lower, upper svgArrow) int {
	in := func(x float64, a svgArrow) bool { return x > min(a.sx, a.ex) && x < max(a.sx, a.ex) }
	n := 0
	if in(lower.ex, upper) {
		n++
	}
	if in(upper.sx, lower) {
		n++
	}
	return n
}
