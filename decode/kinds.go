package decode

import (
	"image"
	"math"
	"sort"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode/detector"
)

// Stages for printed codes that are not phone screens: a small code inside
// a larger picture or code-like design (triples), art codes drawn with
// round dots (dots) and codes of one to three pixels per module (tiny).

// maxTriples bounds the finder triples the triples stage samples.
const maxTriples = 24

// triple is three finder candidates that could belong to one code, with a
// score: lower is likelier.
type triple struct {
	a, b, c candidate
	score   float64
}

// triplesStage reads a small code inside a larger picture: the picture's
// own squares, or the finders of a larger code-like design round it, are
// larger than the code's finders, so gozxing's finder and the sweep (the
// six largest candidates) pick the wrong three. It samples the grid for
// every plausible triple among more candidates, best-shaped first, skipping
// the triples the sweep already tried; in stream mode it stops once the
// frame's slice is spent after one triple.
func (f *frameCtx) triplesStage() (res Result, ok bool) {
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
		if i == 1 && f.timeUp() {
			return Result{}, false
		}
		if inv {
			m.FlipAll()
		}
		cs := findCandidates(m, f.d.cands2[:0])
		f.d.cands2 = cs
		if r, ok := f.tryTriples(m, im, cs); ok {
			return r, true
		}
		if inv {
			m.FlipAll()
		}
	}
	return Result{}, false
}

// tryTriples samples the plausible triples of normal-polarity candidates
// that are not all among the six largest.
func (f *frameCtx) tryTriples(m *gozxing.BitMatrix, im img, cs []candidate) (Result, bool) {
	var ps []candidate
	for _, c := range cs {
		if !c.inverted {
			ps = append(ps, c)
		}
	}
	if len(ps) < 3 {
		return Result{}, false
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].size > ps[j].size })
	ps = ps[:min(len(ps), 32)]
	var ts []triple
	for i := 0; i < len(ps); i++ {
		for j := i + 1; j < len(ps); j++ {
			for k := j + 1; k < len(ps); k++ {
				if k < 6 {
					continue // the sweep's
				}
				if s, ok := tripleScore(ps[i], ps[j], ps[k]); ok {
					ts = append(ts, triple{ps[i], ps[j], ps[k], s})
				}
			}
		}
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].score < ts[j].score })
	for n, t := range ts {
		if n >= maxTriples || f.timeUp() || f.d.o.Stream && n > 0 && time.Since(f.start) > f.d.o.Slice {
			break
		}
		f.triple = true
		pa := detector.NewFinderPattern1(t.a.x, t.a.y, t.a.size/7)
		pb := detector.NewFinderPattern1(t.b.x, t.b.y, t.b.size/7)
		pc := detector.NewFinderPattern1(t.c.x, t.c.y, t.c.size/7)
		bl, tl, tr := gozxing.ResultPoint_OrderBestPatterns(pa, pb, pc)
		if r, ok := f.sweepDims(m, im, tl.(*detector.FinderPattern), tr.(*detector.FinderPattern), bl.(*detector.FinderPattern)); ok {
			return r, true
		}
	}
	return Result{}, false
}

// tripleScore scores three candidates as the finders of one code: the
// spread of their sizes, the unequal arms and the corner's departure from
// a right angle add up (0 is a perfect square code seen head on). ok is
// false for triples plausibleTriple rejects.
func tripleScore(a, b, c candidate) (float64, bool) {
	if !plausibleTriple(a, b, c) {
		return 0, false
	}
	lo, hi := min(a.size, b.size, c.size), max(a.size, b.size, c.size)
	d := func(p, q candidate) float64 { return math.Hypot(p.x-q.x, p.y-q.y) }
	s := []float64{d(a, b), d(a, c), d(b, c)}
	sort.Float64s(s)
	cos := (s[0]*s[0] + s[1]*s[1] - s[2]*s[2]) / (2 * s[0] * s[1])
	return (hi/lo - 1) + (s[1]/s[0] - 1) + math.Abs(cos), true
}

// dotsStage reads codes drawn with round dots (art codes): a grey
// erosion spreads each dark dot towards its module's square before the
// decoder binarizes, then gozxing and the sweep read the result. Dotted
// codes make many light-centred rings, which the polarity count takes for
// dark mode: the dark-on-light spread comes first, the light-on-dark one
// (a dilation) only when the candidates say dark mode.
func (f *frameCtx) dotsStage() (Result, bool) {
	n := f.tgt.w * f.tgt.h
	f.d.bufs.work3 = grow(f.d.bufs.work3, n)
	f.d.bufs.work2 = grow(f.d.bufs.work2, n)
	tgt := f.tgt
	for _, dark := range []bool{true, false} {
		if !dark && (!f.invFirst || f.timeUp()) {
			break
		}
		spread3(f.d.bufs.work3, tgt.pix, f.d.bufs.work2, tgt.w, tgt.h, dark)
		spread := img{f.d.bufs.work3, tgt.w, tgt.h, tgt.v}
		if r, ok := f.both(spread, true); ok || f.timeUp() {
			return r, ok
		}
		// gozxing's detector misjudges the grid of large dotted codes
		// (the alignment pattern is dots too), and the spread finders'
		// rings are thicker than a module, so the module size is
		// overestimated and the dimension under: sweep more of them
		f.tgt, f.dimSteps = spread, dotSteps
		r, ok := f.sweepStage()
		f.tgt, f.dimSteps = tgt, nil
		if ok {
			return r, true
		}
	}
	return Result{}, false
}

// dotSteps are the dimensions, from the estimate, that the dots stage
// sweeps.
var dotSteps = []int{0, 4, 8, 12, 16, 20, -4, -8}

// spread3 writes the 3x3 minimum of src into dst (the maximum when dark
// is false), through tmp; all hold w*h bytes.
func spread3(dst, src, tmp []byte, w, h int, dark bool) {
	pick := func(a, b byte) byte {
		if dark == (a < b) {
			return a
		}
		return b
	}
	for y := 0; y < h; y++ {
		row, out := src[y*w:(y+1)*w], tmp[y*w:(y+1)*w]
		for x := range row {
			v := row[x]
			if x > 0 {
				v = pick(v, row[x-1])
			}
			if x+1 < w {
				v = pick(v, row[x+1])
			}
			out[x] = v
		}
	}
	for y := 0; y < h; y++ {
		out := dst[y*w : (y+1)*w]
		for x := range out {
			v := tmp[y*w+x]
			if y > 0 {
				v = pick(v, tmp[(y-1)*w+x])
			}
			if y+1 < h {
				v = pick(v, tmp[(y+1)*w+x])
			}
			out[x] = v
		}
	}
}

// tinyStage reads codes of one to three pixels per module: the
// candidates' region of the full-resolution frame, enlarged three times
// with cubic interpolation. The zoom's bilinear doubling blurs modules
// this small past reading; the cubic kernel keeps their edges.
func (f *frameCtx) tinyStage() (Result, bool) {
	box, size, ok := candidateBox(f.cands, f.invFirst, f.base.w, f.base.h)
	if !ok {
		return Result{}, false
	}
	s := f.base.v.a
	if size*s/7 > 3 {
		return Result{}, false
	}
	r := image.Rect(int(float64(box.Min.X)*s), int(float64(box.Min.Y)*s), int(float64(box.Max.X)*s), int(float64(box.Max.Y)*s))
	r = r.Intersect(image.Rect(0, 0, f.w, f.h))
	if r.Dx() < minSide || r.Dy() < minSide || r.Dx()*r.Dy() > maxTiny {
		return Result{}, false
	}
	w, h := 3*r.Dx(), 3*r.Dy()
	f.d.bufs.tiny = grow(f.d.bufs.tiny, w*h)
	if cap(f.d.bufs.tinyRow) < w*r.Dy() {
		f.d.bufs.tinyRow = make([]float32, w*r.Dy())
	}
	cubic3(f.d.bufs.tiny, f.d.bufs.tinyRow[:w*r.Dy()], f.pix, f.w, r)
	v := scaled(float64(r.Min.X)-1.0/3, float64(r.Min.Y)-1.0/3, 1.0/3)
	return f.both(img{f.d.bufs.tiny[:w*h], w, h, v}, true)
}

// maxTiny is the largest region, in frame pixels, the tiny stage enlarges.
const maxTiny = 240 * 240

// cubicW are the weights of a Catmull-Rom cubic (Keys, a = -0.5) for the
// three phases of a threefold enlargement, taps at offsets -1..2 from the
// source pixel at or left of the output pixel's centre.
var cubicW = func() (w [3][4]float32) {
	k := func(t float64) float64 {
		t = math.Abs(t)
		switch {
		case t <= 1:
			return 1.5*t*t*t - 2.5*t*t + 1
		case t < 2:
			return -0.5*t*t*t + 2.5*t*t - 4*t + 2
		}
		return 0
	}
	for p := 0; p < 3; p++ {
		u := (float64(p)+0.5)/3 - 0.5
		fr := u - math.Floor(u)
		for i := 0; i < 4; i++ {
			w[p][i] = float32(k(fr - float64(i-1)))
		}
	}
	return w
}()

// cubic3 enlarges rectangle r of a w-wide frame three times into dst
// (3r.Dx() x 3r.Dy()), through tmp (3r.Dx() x r.Dy()).
func cubic3(dst []byte, tmp []float32, src []byte, w int, r image.Rectangle) {
	ow, oh := 3*r.Dx(), 3*r.Dy()
	// the source pixel at or left of output x's centre, for x = 3i+p
	base := func(o, p int) int {
		if p == 0 {
			return o - 1 // phase 0 sits left of the pixel's centre
		}
		return o
	}
	for y := 0; y < r.Dy(); y++ {
		row := src[(r.Min.Y+y)*w:]
		out := tmp[y*ow : (y+1)*ow]
		for x := range out {
			i, p := x/3, x%3
			b := r.Min.X + base(i, p)
			var a float32
			for t := 0; t < 4; t++ {
				a += cubicW[p][t] * float32(row[clampi(b+t-1, 0, w-1)])
			}
			out[x] = a
		}
	}
	for y := 0; y < oh; y++ {
		i, p := y/3, y%3
		b := base(i, p)
		out := dst[y*ow : (y+1)*ow]
		for x := range out {
			var a float32
			for t := 0; t < 4; t++ {
				a += cubicW[p][t] * tmp[clampi(b+t-1, 0, r.Dy()-1)*ow+x]
			}
			out[x] = byte(min(max(a+0.5, 0), 255))
		}
	}
}
