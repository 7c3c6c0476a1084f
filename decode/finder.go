package decode

import (
	"image"
	"math"
	"sort"

	"github.com/makiuchi-d/gozxing"
)

// candidate is a possible finder pattern: a 1:1:3:1:1 run both across and
// down, in a binarized frame.
type candidate struct {
	x, y     float64 // centre
	size     float64 // finder width in pixels (7 modules)
	inverted bool    // light centre on dark: a dark-mode code
}

// findCandidates scans every other row of a binarized frame for finder
// patterns of either polarity and confirms each down its centre column.
// It is the cheap gate that decides whether a frame is worth the cascade,
// and it tells where to zoom and which polarity to try.
func findCandidates(m *gozxing.BitMatrix, out []candidate) []candidate {
	w, h := m.GetWidth(), m.GetHeight()
	var runs [5]int
	row := gozxing.NewBitArray(w)
	for y := 1; y < h; y += 2 {
		row = m.GetRow(y, row)
		bits := row.GetBitArray()
		get := func(x int) bool { return bits[x>>5]>>(uint(x)&31)&1 != 0 }
		n := 0 // runs completed in the window
		cur, length := get(0), 1
		for x := 1; x <= w; x++ {
			var v bool
			if x < w {
				// skip whole words of one colour quickly
				if x&31 == 0 && x+32 <= w {
					word := bits[x>>5]
					if cur && word == 0xffffffff || !cur && word == 0 {
						length += 32
						x += 31
						continue
					}
				}
				v = get(x)
			}
			if x < w && v == cur {
				length++
				continue
			}
			// a run of colour cur ended at x-1
			copy(runs[:], runs[1:])
			runs[4] = length
			n++
			if n >= 5 && runs[0]+runs[1]+runs[2]+runs[3]+runs[4] >= minFinder && ratioOK(runs) {
				// cur is the colour of the last run, which is the outer
				// ring's; a normal finder has a dark (set) ring.
				total := runs[0] + runs[1] + runs[2] + runs[3] + runs[4]
				cx := float64(x-runs[4]-runs[3]) - float64(runs[2])/2
				if cy, ok := confirmColumn(m, int(cx), y, total, cur); ok && confirmDiagonal(m, int(cx), int(cy), total, cur) {
					out = addCandidate(out, candidate{x: cx, y: cy, size: float64(total), inverted: !cur})
				}
			}
			cur, length = v, 1
		}
	}
	return out
}

const (
	// minFinder is the smallest finder width looked for, in pixels
	// (modules of 1.5 px); smaller hits are mostly sensor noise.
	minFinder = 11
	// maxCandidates bounds the work on noisy or busy frames.
	maxCandidates = 128
	// noisyCandidates: more than this many means the binarized frame is
	// full of noise; look again on a smoothed frame.
	noisyCandidates = 40
)

// ratioOK checks 1:1:3:1:1 with a looser tolerance than ZXing's half a
// module (three quarters, and at least one pixel), so that small, blurred
// finders that gozxing misses still open the cascade.
func ratioOK(r [5]int) bool {
	total := r[0] + r[1] + r[2] + r[3] + r[4]
	if total < 7 {
		return false
	}
	mod := float64(total) / 7
	tol := max(mod*0.75, 1.01)
	return math.Abs(mod-float64(r[0])) < tol && math.Abs(mod-float64(r[1])) < tol &&
		math.Abs(3*mod-float64(r[2])) < 3*tol && math.Abs(mod-float64(r[3])) < tol &&
		math.Abs(mod-float64(r[4])) < tol
}

// confirmColumn checks the runs up and down column x through y and returns
// the vertical centre when they also read 1:1:3:1:1 at a similar size.
// ring is the colour of the outer ring, which the core shares.
func confirmColumn(m *gozxing.BitMatrix, x, y, total int, ring bool) (float64, bool) {
	h := m.GetHeight()
	centre := ring
	if m.Get(x, y) != centre {
		return 0, false
	}
	maxRun := total
	var r [5]int
	yy := y
	for yy >= 0 && m.Get(x, yy) == centre && r[2] < maxRun {
		r[2]++
		yy--
	}
	for yy >= 0 && m.Get(x, yy) != centre && r[1] < maxRun {
		r[1]++
		yy--
	}
	for yy >= 0 && m.Get(x, yy) == centre && r[0] < maxRun {
		r[0]++
		yy--
	}
	yy = y + 1
	for yy < h && m.Get(x, yy) == centre && r[2] < 2*maxRun {
		r[2]++
		yy++
	}
	bottomCentre := yy
	for yy < h && m.Get(x, yy) != centre && r[3] < maxRun {
		r[3]++
		yy++
	}
	for yy < h && m.Get(x, yy) == centre && r[4] < maxRun {
		r[4]++
		yy++
	}
	vt := r[0] + r[1] + r[2] + r[3] + r[4]
	if !ratioOK(r) || vt*2 < total || vt > 2*total {
		return 0, false
	}
	return float64(bottomCentre) - float64(r[2])/2, true
}

// confirmDiagonal checks the runs along the down-right diagonal through
// (x, y), as ZXing's finder does: 1:1:3:1:1 again, at a size similar to
// the row's (diagonal steps are longer, so sizes are in steps).
func confirmDiagonal(m *gozxing.BitMatrix, x, y, total int, ring bool) bool {
	w, h := m.GetWidth(), m.GetHeight()
	centre := ring
	if m.Get(x, y) != centre {
		return false
	}
	maxRun := total
	var r [5]int
	i := 0
	for x-i >= 0 && y-i >= 0 && m.Get(x-i, y-i) == centre && r[2] < maxRun {
		r[2]++
		i++
	}
	for x-i >= 0 && y-i >= 0 && m.Get(x-i, y-i) != centre && r[1] < maxRun {
		r[1]++
		i++
	}
	for x-i >= 0 && y-i >= 0 && m.Get(x-i, y-i) == centre && r[0] < maxRun {
		r[0]++
		i++
	}
	i = 1
	for x+i < w && y+i < h && m.Get(x+i, y+i) == centre && r[2] < 2*maxRun {
		r[2]++
		i++
	}
	for x+i < w && y+i < h && m.Get(x+i, y+i) != centre && r[3] < maxRun {
		r[3]++
		i++
	}
	for x+i < w && y+i < h && m.Get(x+i, y+i) == centre && r[4] < maxRun {
		r[4]++
		i++
	}
	dt := r[0] + r[1] + r[2] + r[3] + r[4]
	return ratioOK(r) && dt*3 >= total && dt <= 2*total
}

// addCandidate merges a candidate into a nearby one of the same polarity.
func addCandidate(cs []candidate, c candidate) []candidate {
	for i := range cs {
		o := &cs[i]
		if o.inverted == c.inverted && math.Abs(o.x-c.x) < c.size/2 && math.Abs(o.y-c.y) < c.size/2 {
			return cs
		}
	}
	if len(cs) >= maxCandidates {
		return cs
	}
	return append(cs, c)
}

// candidateBox returns a rectangle, in the binarized image's coordinates,
// that should hold the code around the candidates of the given polarity,
// and the median finder size. ok is false without candidates. Noise and
// text make scattered candidates of odd sizes; a code makes a dense group
// of similar ones (its finders, and data modules that happen to read
// 1:1:3:1:1), so the box is the densest group of candidates near the
// median size.
func candidateBox(cs []candidate, inverted bool, w, h int) (image.Rectangle, float64, bool) {
	var sizes []float64
	for _, c := range cs {
		if c.inverted == inverted {
			sizes = append(sizes, c.size)
		}
	}
	if len(sizes) == 0 {
		return image.Rectangle{}, 0, false
	}
	sort.Float64s(sizes)
	med := sizes[len(sizes)/2]
	keep := func(c candidate) bool {
		return c.inverted == inverted && c.size >= 0.4*med && c.size <= 2.5*med
	}
	radius := 10 * med
	seed, best := -1, -1
	for i, c := range cs {
		if !keep(c) {
			continue
		}
		n := 0
		for _, o := range cs {
			if keep(o) && math.Hypot(o.x-c.x, o.y-c.y) < radius {
				n++
			}
		}
		if n > best {
			seed, best = i, n
		}
	}
	sc := cs[seed]
	minX, maxX, minY, maxY := sc.x, sc.x, sc.y, sc.y
	for _, c := range cs {
		if keep(c) && math.Hypot(c.x-sc.x, c.y-sc.y) < radius {
			minX, maxX = min(minX, c.x), max(maxX, c.x)
			minY, maxY = min(minY, c.y), max(maxY, c.y)
		}
	}
	var p float64
	if best == 1 || (maxX-minX < med && maxY-minY < med) {
		// one finder: the code may lie in any direction from it.
		p = 6 * med
	} else {
		p = 2*med + 0.5*max(maxX-minX, maxY-minY)
	}
	r := image.Rect(int(minX-p), int(minY-p), int(maxX+p+1), int(maxY+p+1))
	return r.Intersect(image.Rect(0, 0, w, h)), med, true
}

// polarity counts candidates per polarity.
func polarity(cs []candidate) (normal, inverted int) {
	for _, c := range cs {
		if c.inverted {
			inverted++
		} else {
			normal++
		}
	}
	return
}
