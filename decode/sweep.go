package decode

import (
	"math"
	"sort"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode/detector"
)

// binarize returns the HybridBinarizer matrix of im, or nil.
func binarize(im img) (m *gozxing.BitMatrix) {
	defer func() {
		if recover() != nil {
			m = nil
		}
	}()
	m, err := newHybrid(&lumSource{pix: im.pix, w: im.w, h: im.h}, nil).GetBlackMatrix()
	if err != nil {
		return nil
	}
	return m
}

// sweepStage reads codes that gozxing's detector finds but misjudges, or
// misses: the finder patterns come from gozxing's finder or, failing that,
// from our own candidates (which see smaller and blurrier finders), and the
// grid is sampled for several dimensions around the estimate, with and
// without the alignment pattern; the QR decoder's error correction picks
// the right one.
func (f *frameCtx) sweepStage() (Result, bool) {
	return f.sweepWith(f.sweepDims)
}

// dimsFunc reads a code from three finder patterns in a binarized image.
type dimsFunc func(m *gozxing.BitMatrix, im img, tl, tr, bl *detector.FinderPattern) (Result, bool)

// sweepWith finds finder triples in the target as sweepStage does and
// reads each with dims.
func (f *frameCtx) sweepWith(dims dimsFunc) (res Result, ok bool) {
	defer func() {
		if recover() != nil {
			res, ok = Result{}, false
		}
	}()
	im := f.tgt
	m := binarize(im)
	if m == nil {
		return Result{}, false
	}
	for i, inv := range []bool{f.invFirst, !f.invFirst} {
		if i == 1 {
			if f.timeUp() {
				return Result{}, false
			}
		}
		if inv {
			m.FlipAll()
		}
		if info, err := detector.NewFinderPatternFinder(m, nil).Find(f.d.hints); err == nil {
			f.codeLike = true
			if r, ok := dims(m, im, info.GetTopLeft(), info.GetTopRight(), info.GetBottomLeft()); ok {
				return r, true
			}
		}
		// our own candidates: in the flipped matrix they all read as normal.
		cs := findCandidates(m, f.d.cands2[:0])
		f.d.cands2 = cs
		if r, ok := f.sweepCandidates(m, im, cs, dims); ok {
			return r, true
		}
		if inv {
			m.FlipAll()
		}
	}
	return Result{}, false
}

// sweepCandidates tries triples of normal-polarity candidates that could be
// the three finders of one code.
func (f *frameCtx) sweepCandidates(m *gozxing.BitMatrix, im img, cs []candidate, dims dimsFunc) (Result, bool) {
	// Finders are the largest 1:1:3:1:1 structures of a code; data
	// modules make smaller false ones. Keep the six largest.
	var ps []candidate
	for _, c := range cs {
		if !c.inverted {
			ps = append(ps, c)
		}
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].size > ps[j].size })
	ps = ps[:min(len(ps), 6)]
	for i := 0; i < len(ps); i++ {
		for j := i + 1; j < len(ps); j++ {
			for k := j + 1; k < len(ps); k++ {
				a, b, c := ps[i], ps[j], ps[k]
				if !plausibleTriple(a, b, c) {
					continue
				}
				f.triple = true
				if f.timeUp() {
					return Result{}, false
				}
				pa := detector.NewFinderPattern1(a.x, a.y, a.size/7)
				pb := detector.NewFinderPattern1(b.x, b.y, b.size/7)
				pc := detector.NewFinderPattern1(c.x, c.y, c.size/7)
				bl, tl, tr := gozxing.ResultPoint_OrderBestPatterns(pa, pb, pc)
				if r, ok := dims(m, im, tl.(*detector.FinderPattern), tr.(*detector.FinderPattern), bl.(*detector.FinderPattern)); ok {
					return r, true
				}
			}
		}
	}
	return Result{}, false
}

// hasTriple reports whether three candidates of the given polarity sit
// like the finders of one code.
func hasTriple(cs []candidate, inverted bool) bool {
	var ps []candidate
	for _, c := range cs {
		if c.inverted == inverted && len(ps) < 8 {
			ps = append(ps, c)
		}
	}
	for i := 0; i < len(ps); i++ {
		for j := i + 1; j < len(ps); j++ {
			for k := j + 1; k < len(ps); k++ {
				if plausibleTriple(ps[i], ps[j], ps[k]) {
					return true
				}
			}
		}
	}
	return false
}

// plausibleTriple: similar finder sizes, and a corner with two arms of
// similar length at a roughly right angle (allowing for tilt).
func plausibleTriple(a, b, c candidate) bool {
	lo, hi := min(a.size, b.size, c.size), max(a.size, b.size, c.size)
	if hi > 1.5*lo {
		return false
	}
	d := func(p, q candidate) float64 { return math.Hypot(p.x-q.x, p.y-q.y) }
	ab, ac, bc := d(a, b), d(a, c), d(b, c)
	// the longest side is the hypotenuse
	hyp, s1, s2 := ab, ac, bc
	if ac > hyp {
		hyp, s1, s2 = ac, ab, bc
	}
	if bc > hyp {
		hyp, s1, s2 = bc, ab, ac
	}
	if s1 < 1.5*lo || s2 < 1.5*lo || max(s1, s2) > 1.6*min(s1, s2) {
		return false
	}
	cos := (s1*s1 + s2*s2 - hyp*hyp) / (2 * s1 * s2)
	return math.Abs(cos) < 0.5
}

// sweepDims samples the grid for dimensions around the estimate.
func (f *frameCtx) sweepDims(m *gozxing.BitMatrix, im img, tl, tr, bl *detector.FinderPattern) (Result, bool) {
	mod := (tl.GetEstimatedModuleSize() + tr.GetEstimatedModuleSize() + bl.GetEstimatedModuleSize()) / 3
	if mod < 0.8 {
		return Result{}, false
	}
	span := (gozxing.ResultPoint_Distance(tl, tr) + gozxing.ResultPoint_Distance(tl, bl)) / 2
	est := int(math.Round(span/mod)) + 7
	est = 4*((est-17+2)/4) + 17 // nearest valid dimension
	steps := f.dimSteps
	if steps == nil {
		steps = []int{0, -4, 4, -8, 8}
	}
	for _, dd := range steps {
		dim := est + dd
		if dim < 21 || dim > 177 {
			continue
		}
		if f.timeUp() {
			return Result{}, false
		}
		aps := []*detector.AlignmentPattern{nil}
		if ap := alignment(m, tl, tr, bl, mod, dim); ap != nil {
			aps = []*detector.AlignmentPattern{ap, nil}
		}
		for _, ap := range aps {
			tf := detector.Detector_createTransform(tl, tr, bl, ap, dim)
			bits, err := detector.Detector_sampleGrid(m, tf, dim)
			if err != nil {
				continue
			}
			dr, err := f.d.qr.Decode(bits, f.d.hints)
			if err != nil || dr == nil {
				continue
			}
			pts := []gozxing.ResultPoint{bl, tl, tr}
			return Result{Text: dr.GetText(), Region: region(pts, im.w, im.h, im.v)}, true
		}
	}
	return Result{}, false
}

// alignment looks for the bottom-right alignment pattern of a code of the
// given dimension, as gozxing's detector does.
func alignment(m *gozxing.BitMatrix, tl, tr, bl *detector.FinderPattern, mod float64, dim int) *detector.AlignmentPattern {
	if dim <= 21 {
		return nil
	}
	brX := tr.GetX() - tl.GetX() + bl.GetX()
	brY := tr.GetY() - tl.GetY() + bl.GetY()
	corr := 1 - 3/float64(dim-7)
	ex := int(tl.GetX() + corr*(brX-tl.GetX()))
	ey := int(tl.GetY() + corr*(brY-tl.GetY()))
	for k := 4.0; k <= 16; k *= 2 {
		a := int(k * mod)
		left, right := max(0, ex-a), min(m.GetWidth()-1, ex+a)
		top, bottom := max(0, ey-a), min(m.GetHeight()-1, ey+a)
		if float64(right-left) < 3*mod || float64(bottom-top) < 3*mod {
			return nil
		}
		ap, err := detector.NewAlignmentPatternFinder(m, left, top, right-left, bottom-top, mod, nil).Find()
		if err == nil {
			return ap
		}
	}
	return nil
}
