package decode

import (
	"image"
	"time"
)

// img is a luminance image for an attempt and its map to frame coordinates.
type img struct {
	pix  []byte
	w, h int
	v    view
}

// frameCtx is one frame's run through the cascade.
type frameCtx struct {
	d          *Decoder
	pix        []byte // full-resolution frame
	w, h       int
	start      time.Time // when the frame's decoding began (wall clock)
	deadline   time.Time
	codeLike   bool
	overBudget bool
	passed     bool // the gate let the frame through: finder candidates

	base     img  // the frame, or the frame halved when large
	tgt      img  // where the code probably is: a zoomed crop, or base
	invFirst bool // try the inverted polarity first
	invTried bool // base-inv already ran
	triple   bool // our candidates hold a plausible finder triple
	roiLive  bool
	cands    []candidate
	from     int   // stream mode: the stage this frame resumes at (0: none)
	grids    int   // grids fitted by the grid stage
	dimSteps []int // dimensions the sweep tries, from its estimate (nil: ±8)
}

// timeUp reports whether the budget is spent.
func (f *frameCtx) timeUp() bool {
	if time.Now().After(f.deadline) {
		f.overBudget = true
		return true
	}
	return false
}

// try runs one attempt and records whether it looked like a code.
func (f *frameCtx) try(im img, hybrid bool) (Result, bool) {
	r, ok, like, _ := f.d.attempt(im.pix, im.w, im.h, hybrid, im.v)
	if like {
		f.codeLike = true
	}
	return r, ok
}

// both tries im in both polarities, the likelier first.
func (f *frameCtx) both(im img, hybrid bool) (Result, bool) {
	for i, inv := range []bool{f.invFirst, !f.invFirst} {
		if i > 0 && f.timeUp() {
			return Result{}, false
		}
		src := im
		if inv {
			src = f.inverted(im)
		}
		if r, ok := f.try(src, hybrid); ok {
			return r, true
		}
	}
	return Result{}, false
}

// inverted returns im with its luminance inverted (dark mode), in
// bufs.inv.
func (f *frameCtx) inverted(im img) img {
	f.d.bufs.inv = grow(f.d.bufs.inv, im.w*im.h)
	invert(f.d.bufs.inv, im.pix)
	im.pix = f.d.bufs.inv
	return im
}

// cascade runs the attempts in order until one reads the code or the
// budget is spent. It returns the result and the stage's name.
func (f *frameCtx) cascade(roiLive bool) (Result, string, bool) {
	d := f.d
	f.roiLive = roiLive
	if roiLive {
		rr := pad(d.roi, 0.3, image.Rect(0, 0, f.w, f.h))
		if rr.Dx() >= minSide && rr.Dy() >= minSide {
			d.bufs.work = grow(d.bufs.work, rr.Dx()*rr.Dy())
			crop(d.bufs.work, f.pix, f.w, rr)
			roi := img{d.bufs.work, rr.Dx(), rr.Dy(), scaled(float64(rr.Min.X), float64(rr.Min.Y), 1)}
			if r, ok := f.both(roi, true); ok {
				return r, "roi", true
			}
			if f.timeUp() {
				return Result{}, "", false
			}
		}
	}

	f.base = img{f.pix, f.w, f.h, identity}
	if max(f.w, f.h) > maxBase {
		// halve until it fits (8K frames are halved three times); the
		// buffer is halved in place after the first pass.
		d.bufs.base = grow(d.bufs.base, (f.w/2)*(f.h/2))
		bw, bh := downscale2(d.bufs.base, f.pix, f.w, f.h)
		scale := 2.0
		for max(bw, bh) > maxBase {
			bw, bh = downscale2(d.bufs.base, d.bufs.base, bw, bh)
			scale *= 2
		}
		f.base = img{d.bufs.base[:bw*bh], bw, bh, scaled(0, 0, scale)}
	}
	f.tgt = f.base
	r, ok, like, m := d.attempt(f.base.pix, f.base.w, f.base.h, true, f.base.v)
	if ok {
		return r, "base", true
	}
	f.codeLike = like
	if m != nil {
		f.cands = findCandidates(m, d.cands[:0])
		d.cands = f.cands
	}
	if len(f.cands) > noisyCandidates {
		// Sensor noise binarizes into false finders everywhere: look for
		// finders, and try once, on a smoothed frame.
		n := f.base.w * f.base.h
		d.bufs.work2 = grow(d.bufs.work2, n)
		if cap(d.bufs.tmp) < n {
			d.bufs.tmp = make([]uint16, n)
		}
		box3(d.bufs.work2, f.base.pix, d.bufs.tmp[:n], f.base.w, f.base.h)
		r, ok, like, m := d.attempt(d.bufs.work2, f.base.w, f.base.h, true, f.base.v)
		if ok {
			return r, "denoise", true
		}
		f.codeLike = f.codeLike || like
		if m != nil {
			f.cands = findCandidates(m, d.cands[:0])
			d.cands = f.cands
		}
		if len(f.cands) > noisyCandidates {
			// Still noisy: smooth once more, only to find the finders
			// (the zoom reads from the full-resolution frame).
			d.bufs.work3 = grow(d.bufs.work3, n)
			box3(d.bufs.work3, d.bufs.work2, d.bufs.tmp[:n], f.base.w, f.base.h)
			if m := binarize(img{d.bufs.work3, f.base.w, f.base.h, f.base.v}); m != nil {
				f.cands = findCandidates(m, d.cands[:0])
				d.cands = f.cands
			}
		}
		if len(f.cands) > noisyCandidates && !f.codeLike && !roiLive {
			return Result{}, "", false // noise all over, nothing code-like
		}
	}
	if len(f.cands) == 0 && !f.codeLike && f.base.v.a >= 2 {
		// A large frame (720p and up, photos) was shrunk: small codes
		// may have vanished from base; look for finders one level finer.
		fine := f.level(f.base.v.a / 2)
		if m := binarize(fine); m != nil {
			for _, c := range findCandidates(m, d.cands[:0]) {
				c.x, c.y, c.size = c.x/2, c.y/2, c.size/2
				f.cands = append(f.cands, c)
			}
			d.cands = f.cands
		}
	}
	normal, inverted := polarity(f.cands)
	// Gate: nothing code-like and no recent code: stop here. Light-on-dark
	// crosses alone are weak evidence (the gaps in text on a phone screen
	// make a few); a dark-mode code shows several, or three that sit like
	// a code's finders.
	if !f.codeLike && !roiLive && (normal+inverted == 0 || normal == 0 && inverted < minInverted && !hasTriple(f.cands, true)) {
		d.resume = 0
		return Result{}, "", false
	}
	f.invFirst = inverted > normal
	f.passed = true
	if f.timeUp() {
		return Result{}, "", false
	}
	if inverted > 0 || normal == 0 {
		f.invTried = true
		if r, ok := f.try(f.inverted(f.base), true); ok {
			return r, "base-inv", true
		}
	}
	// In stream mode the stages after the zoom are spread over frames:
	// each frame goes on from the stage where the last one stopped (the
	// code is still there in the next frame), and stops once its slice is
	// spent after at least one of them.
	// A fresh frame (from 0) counts the zoom as its stage; a resumed one
	// tries the zoom once more in its likelier polarity and then runs at
	// least the stage it resumes at.
	from := 0
	if d.o.Stream {
		from = d.resume
	}
	f.from = from
	ran := 0
	for i, st := range stages {
		if i > 0 && i < from {
			continue
		}
		like := f.codeLike || f.triple || f.roiLive || from > 0 && d.resumeLike
		if f.timeUp() || d.o.Stream && ran > 0 && time.Since(f.start) > d.o.Slice {
			d.resume, d.resumeLike = i, like
			return Result{}, "", false
		}
		// Past the zoom, sweep and inversion, go on only with some sign
		// of a code: gozxing saw finders, our finders form a triple, a
		// code was read here recently, or (stream mode) the frames that
		// ran the earlier stages saw one.
		if st.costly && !like {
			d.resume = 0
			return Result{}, "", false
		}
		if r, ok := st.run(f); ok {
			d.resume = 0
			return r, st.name, true
		}
		if i >= from {
			ran++
		}
	}
	d.resume = 0
	return Result{}, "", false
}

// minInverted is the number of light-on-dark finder candidates, without
// any dark-on-light one, that opens the cascade.
const minInverted = 4

type stage struct {
	name   string
	run    func(f *frameCtx) (Result, bool)
	costly bool // runs only with a sign of a code
}

// stages are the attempts after the base pass, in order.
var stages = []stage{
	{"zoom", (*frameCtx).zoom, false},
	{"sweep", (*frameCtx).sweepStage, false},
	{"deglare", func(f *frameCtx) (Result, bool) {
		if f.invFirst {
			return Result{}, false // glare lifts dark modules; dark mode differs
		}
		n := f.tgt.w * f.tgt.h
		f.d.bufs.work2 = grow(f.d.bufs.work2, n)
		f.d.bufs.blk = grow(f.d.bufs.blk, ((f.tgt.w+3)/4)*((f.tgt.h+3)/4))
		deglare(f.d.bufs.work2, f.tgt.pix, f.d.bufs.blk, &f.d.bufs.glare, f.tgt.w, f.tgt.h)
		return f.try(img{f.d.bufs.work2, f.tgt.w, f.tgt.h, f.tgt.v}, true)
	}, false},
	{"base-inv", func(f *frameCtx) (Result, bool) {
		if f.invTried {
			return Result{}, false
		}
		return f.try(f.inverted(f.base), true)
	}, false},
	{"triples", (*frameCtx).triplesStage, true},
	{"zoom4", func(f *frameCtx) (Result, bool) {
		// tiny modules (about 2 px): double the doubled crop once more
		if f.tgt.v.a != 0.5 || f.tgt.w*f.tgt.h > 1<<18 {
			return Result{}, false
		}
		t := f.tgt
		f.d.bufs.zoom4 = grow(f.d.bufs.zoom4, 4*t.w*t.h)
		zw, zh := zoom2(f.d.bufs.zoom4, t.pix, t.w, t.h, image.Rect(0, 0, t.w, t.h))
		v := t.v
		v.tx += v.a * -0.5
		v.ty += v.d * -0.5
		v.a, v.d = v.a/2, v.d/2
		return f.both(img{f.d.bufs.zoom4[:zw*zh], zw, zh, v}, true)
	}, true},
	{"tiny", (*frameCtx).tinyStage, true},
	{"global", func(f *frameCtx) (Result, bool) { return f.both(f.tgt, false) }, true},
	{"stretch", func(f *frameCtx) (Result, bool) {
		f.d.bufs.work2 = grow(f.d.bufs.work2, f.tgt.w*f.tgt.h)
		if !stretch(f.d.bufs.work2, f.tgt.pix) {
			return Result{}, false
		}
		return f.both(img{f.d.bufs.work2, f.tgt.w, f.tgt.h, f.tgt.v}, true)
	}, true},
	{"smooth", func(f *frameCtx) (Result, bool) {
		return f.both(f.smoothed(), true)
	}, true},
	{"sharpen", func(f *frameCtx) (Result, bool) {
		s := f.smoothed()
		f.d.bufs.work3 = grow(f.d.bufs.work3, f.tgt.w*f.tgt.h)
		sharpen(f.d.bufs.work3, f.tgt.pix, s.pix)
		return f.both(img{f.d.bufs.work3, f.tgt.w, f.tgt.h, f.tgt.v}, true)
	}, true},
	{"dots", (*frameCtx).dotsStage, true},
	{"grid", (*frameCtx).gridStage, true},
	{"fullres", func(f *frameCtx) (Result, bool) {
		// finer levels of the pyramid, down to the full-resolution frame
		for scale := f.base.v.a / 2; scale >= 1; scale /= 2 {
			if f.timeUp() {
				return Result{}, false
			}
			if r, ok := f.both(f.level(scale), true); ok {
				return r, true
			}
		}
		return Result{}, false
	}, true},
	{"deblur", (*frameCtx).deblurStage, true},
	{"opencv", func(f *frameCtx) (Result, bool) {
		// OpenCV's detector is slow: only for frames that look like a code.
		if f.d.cv == nil || !(f.codeLike || f.roiLive) {
			return Result{}, false
		}
		return f.d.cv.run(f)
	}, true},
}

// smoothed returns box3(tgt), computed once per frame into bufs.smooth.
func (f *frameCtx) smoothed() img {
	n := f.tgt.w * f.tgt.h
	if !f.d.bufs.smoothed {
		f.d.bufs.smooth = grow(f.d.bufs.smooth, n)
		if cap(f.d.bufs.tmp) < n {
			f.d.bufs.tmp = make([]uint16, n)
		}
		box3(f.d.bufs.smooth, f.tgt.pix, f.d.bufs.tmp[:n], f.tgt.w, f.tgt.h)
		f.d.bufs.smoothed = true
	}
	return img{f.d.bufs.smooth[:n], f.tgt.w, f.tgt.h, f.tgt.v}
}

// zoom crops the region the finder candidates point at (or the centre of
// the frame without candidates) from the full-resolution frame, doubling
// it when modules are small, and makes it the target of later stages.
func (f *frameCtx) zoom() (Result, bool) {
	var r image.Rectangle
	modPx := 0.0 // module size in full-resolution pixels
	box, size, ok := candidateBox(f.cands, f.invFirst, f.base.w, f.base.h)
	if ok {
		s := f.base.v.a // base to frame scale
		r = image.Rect(int(float64(box.Min.X)*s), int(float64(box.Min.Y)*s), int(float64(box.Max.X)*s), int(float64(box.Max.Y)*s))
		modPx = size * s / 7
	} else {
		r = image.Rect(f.w/4, f.h/4, f.w/4+f.w/2, f.h/4+f.h/2)
	}
	r = r.Intersect(image.Rect(0, 0, f.w, f.h))
	if r.Dx() < minSide || r.Dy() < minSide {
		return Result{}, false
	}
	d := f.d
	if (modPx < 4.5 || r.Dx()*r.Dy() <= 1<<16) && r.Dx()*r.Dy() <= 1<<19 {
		d.bufs.zoom = grow(d.bufs.zoom, 4*r.Dx()*r.Dy())
		zw, zh := zoom2(d.bufs.zoom, f.pix, f.w, f.h, r)
		f.tgt = img{d.bufs.zoom[:zw*zh], zw, zh, scaled(float64(r.Min.X)-0.5, float64(r.Min.Y)-0.5, 0.5)}
	} else {
		d.bufs.zoom = grow(d.bufs.zoom, r.Dx()*r.Dy())
		crop(d.bufs.zoom, f.pix, f.w, r)
		f.tgt = img{d.bufs.zoom[:r.Dx()*r.Dy()], r.Dx(), r.Dy(), scaled(float64(r.Min.X), float64(r.Min.Y), 1)}
	}
	d.bufs.smoothed = false
	if f.from > 0 {
		// Stream mode, a later stage's turn: the zoom was tried in both
		// polarities on an earlier frame of this scene; try the likelier
		// one again (the phone moved and may be nearer) and leave the
		// rest of the frame's time to the stage.
		if f.invFirst {
			return f.try(f.inverted(f.tgt), true)
		}
		return f.try(f.tgt, true)
	}
	return f.both(f.tgt, true)
}

// pad grows r by frac of its size on each side, clipped to bounds.
func pad(r image.Rectangle, frac float64, bounds image.Rectangle) image.Rectangle {
	dx, dy := int(float64(r.Dx())*frac), int(float64(r.Dy())*frac)
	return image.Rect(r.Min.X-dx, r.Min.Y-dy, r.Max.X+dx, r.Max.Y+dy).Intersect(bounds)
}

// level returns the frame reduced by scale (a power of two, 1 = the frame
// itself), computed into bufs.level.
func (f *frameCtx) level(scale float64) img {
	if scale <= 1 {
		return img{f.pix, f.w, f.h, identity}
	}
	d := f.d
	d.bufs.level = grow(d.bufs.level, (f.w/2)*(f.h/2))
	w, h := downscale2(d.bufs.level, f.pix, f.w, f.h)
	for s := 2.0; s < scale; s *= 2 {
		w, h = downscale2(d.bufs.level, d.bufs.level, w, h)
	}
	return img{d.bufs.level[:w*h], w, h, scaled(0, 0, scale)}
}
