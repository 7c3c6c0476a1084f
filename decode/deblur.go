package decode

import (
	"image"
	"math"
	"math/bits"
	"math/cmplx"
)

// Deconvolution for defocus and motion blur: the code's region is cropped
// into a square of side N (a power of two, at most maxDeblur), its edges
// blended to the mean so that the periodic transform sees no step, and
// transformed once; each PSF guess then costs one multiplication by a
// Wiener filter conj(H)/(|H|^2+k) and one inverse transform. The PSFs are
// analytic in the frequency domain: a disk (lens defocus), a Gaussian (the
// softer defocus of small sensors) and a line (motion, its angle estimated
// from the crop's structure tensor).

// maxDeblur is the largest side of a deconvolved crop.
const maxDeblur = 512

// psf is one blur guess.
type psf struct {
	kind  byte    // 'g' Gaussian, 'd' disk, 'm' motion line
	size  float64 // sigma, radius or length in crop pixels
	angle float64 // motion direction, radians
}

// otf is the PSF's transfer function at frequency (u, v) in cycles per
// pixel.
func (p psf) otf(u, v float64) float64 {
	switch p.kind {
	case 'g':
		return math.Exp(-2 * math.Pi * math.Pi * p.size * p.size * (u*u + v*v))
	case 'd':
		x := 2 * math.Pi * p.size * math.Hypot(u, v)
		if x < 1e-9 {
			return 1
		}
		return 2 * math.J1(x) / x
	default:
		x := math.Pi * p.size * (u*math.Cos(p.angle) + v*math.Sin(p.angle))
		if math.Abs(x) < 1e-9 {
			return 1
		}
		return math.Sin(x) / x
	}
}

// deblurrer holds the transform of one crop and reuses its buffers.
type deblurrer struct {
	n    int
	spec []complex128 // transform of the crop
	work []complex128
	tw   []complex128 // twiddles for size n
	out  []byte
	r    image.Rectangle // crop in the source image
	mean float64
}

// load crops r of the w-wide image pix into an n x n square (n the next
// power of two of r's larger side, which must be at most maxDeblur),
// tapers it to the mean, and transforms it. It reports false when r does
// not fit.
func (db *deblurrer) load(pix []byte, w int, r image.Rectangle) bool {
	side := max(r.Dx(), r.Dy())
	if side < minSide || side > maxDeblur {
		return false
	}
	n := 1 << bits.Len(uint(side-1))
	if db.n != n {
		db.n = n
		db.spec = make([]complex128, n*n)
		db.work = make([]complex128, n*n)
		db.tw = twiddles(n)
	}
	db.r = r
	var sum float64
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			sum += float64(pix[y*w+x])
		}
	}
	db.mean = sum / float64(r.Dx()*r.Dy())
	// Place the crop in the middle, blend a margin of up to 16 px to the
	// mean with a raised cosine, and fill the rest with the mean.
	ox, oy := (n-r.Dx())/2, (n-r.Dy())/2
	marg := float64(min(16, r.Dx()/4, r.Dy()/4))
	for i := range db.spec {
		db.spec[i] = complex(db.mean, 0)
	}
	for y := 0; y < r.Dy(); y++ {
		wy := taper(float64(min(y, r.Dy()-1-y)), marg)
		row := pix[(r.Min.Y+y)*w+r.Min.X:]
		for x := 0; x < r.Dx(); x++ {
			wt := wy * taper(float64(min(x, r.Dx()-1-x)), marg)
			v := db.mean + wt*(float64(row[x])-db.mean)
			db.spec[(oy+y)*n+ox+x] = complex(v, 0)
		}
	}
	fft2(db.spec, n, db.tw, false)
	return true
}

func taper(d, marg float64) float64 {
	if marg <= 0 || d >= marg {
		return 1
	}
	return 0.5 - 0.5*math.Cos(math.Pi*(d+0.5)/marg)
}

// apply deconvolves the loaded crop with p and noise-to-signal ratio k,
// returning the crop's pixels (r.Dx() x r.Dy()), contrast stretched.
func (db *deblurrer) apply(p psf, k float64) []byte {
	n := db.n
	for y := 0; y < n; y++ {
		v := float64(y) / float64(n)
		if y > n/2 {
			v -= 1
		}
		for x := 0; x < n; x++ {
			u := float64(x) / float64(n)
			if x > n/2 {
				u -= 1
			}
			h := p.otf(u, v)
			db.work[y*n+x] = db.spec[y*n+x] * complex(h/(h*h+k), 0)
		}
	}
	fft2(db.work, n, db.tw, true)
	w, h := db.r.Dx(), db.r.Dy()
	ox, oy := (n-w)/2, (n-h)/2
	// Stretch between the 1st and 99th percentile of the crop's values.
	var hist [256]int
	lo, hi := math.Inf(1), math.Inf(-1)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := real(db.work[(oy+y)*n+ox+x])
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	if hi-lo < 1e-6 {
		hi = lo + 1
	}
	sc := 255 / (hi - lo)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			hist[clampi(int((real(db.work[(oy+y)*n+ox+x])-lo)*sc), 0, 255)]++
		}
	}
	p1, p99 := percentile(&hist, w*h, 0.01), percentile(&hist, w*h, 0.99)
	a := lo + float64(p1)/sc
	b := lo + float64(p99+1)/sc
	s2 := 255 / math.Max(b-a, 1e-6)
	db.out = grow(db.out, w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			db.out[y*w+x] = byte(clampi(int((real(db.work[(oy+y)*n+ox+x])-a)*s2+0.5), 0, 255))
		}
	}
	return db.out
}

func percentile(hist *[256]int, total int, q float64) int {
	want := int(q * float64(total))
	c := 0
	for i, v := range hist {
		c += v
		if c > want {
			return i
		}
	}
	return 255
}

// motionAngle estimates the direction of motion blur in the region r of
// the w-wide image pix: the direction of least gradient energy (the structure tensor's
// minor eigenvector), and how anisotropic the gradients are (0 none, 1 all
// along one direction).
func motionAngle(pix []byte, w int, r image.Rectangle) (angle, aniso float64) {
	var sxx, syy, sxy float64
	for y := r.Min.Y + 1; y < r.Max.Y-1; y++ {
		for x := r.Min.X + 1; x < r.Max.X-1; x++ {
			gx := float64(pix[y*w+x+1]) - float64(pix[y*w+x-1])
			gy := float64(pix[(y+1)*w+x]) - float64(pix[(y-1)*w+x])
			sxx += gx * gx
			syy += gy * gy
			sxy += gx * gy
		}
	}
	// major eigenvector angle: 0.5*atan2(2sxy, sxx-syy); motion is across it
	major := 0.5 * math.Atan2(2*sxy, sxx-syy)
	tr := sxx + syy
	if tr <= 0 {
		return 0, 0
	}
	d := math.Sqrt((sxx-syy)*(sxx-syy) + 4*sxy*sxy)
	return major + math.Pi/2, d / tr
}

// twiddles returns exp(-2πik/n) for k < n/2.
func twiddles(n int) []complex128 {
	t := make([]complex128, n/2)
	for k := range t {
		t[k] = cmplx.Exp(complex(0, -2*math.Pi*float64(k)/float64(n)))
	}
	return t
}

// fft1 transforms a in place (length n, a power of two, stride s).
func fft1(a []complex128, n, s int, tw []complex128, inv bool, tmp []complex128) {
	for i := 0; i < n; i++ {
		tmp[i] = a[i*s]
	}
	j := 0
	for i := 1; i < n; i++ {
		bit := n >> 1
		for ; j&bit != 0; bit >>= 1 {
			j ^= bit
		}
		j |= bit
		if i < j {
			tmp[i], tmp[j] = tmp[j], tmp[i]
		}
	}
	for size := 2; size <= n; size <<= 1 {
		half, step := size/2, n/size
		for start := 0; start < n; start += size {
			for k := 0; k < half; k++ {
				w := tw[k*step]
				if inv {
					w = cmplx.Conj(w)
				}
				u, v := tmp[start+k], tmp[start+k+half]*w
				tmp[start+k], tmp[start+k+half] = u+v, u-v
			}
		}
	}
	sc := 1.0
	if inv {
		sc = 1 / float64(n)
	}
	for i := 0; i < n; i++ {
		a[i*s] = tmp[i] * complex(sc, 0)
	}
}

// fft2 transforms the n x n square a in place, rows then columns.
func fft2(a []complex128, n int, tw []complex128, inv bool) {
	tmp := make([]complex128, n)
	for y := 0; y < n; y++ {
		fft1(a[y*n:], n, 1, tw, inv, tmp)
	}
	for x := 0; x < n; x++ {
		fft1(a[x:], n, n, tw, inv, tmp)
	}
}

// codeRect is the target's region in frame coordinates, at most maxDeblur
// on a side (centred on the target when larger).
func (f *frameCtx) codeRect() image.Rectangle {
	v := f.tgt.v
	x0, y0 := v.apply(0, 0)
	x1, y1 := v.apply(float64(f.tgt.w), float64(f.tgt.h))
	r := image.Rect(int(x0), int(y0), int(x1+0.5), int(y1+0.5)).Intersect(image.Rect(0, 0, f.w, f.h))
	if r.Dx() > maxDeblur {
		c := (r.Min.X + r.Max.X) / 2
		r.Min.X, r.Max.X = c-maxDeblur/2, c+maxDeblur/2
	}
	if r.Dy() > maxDeblur {
		c := (r.Min.Y + r.Max.Y) / 2
		r.Min.Y, r.Max.Y = c-maxDeblur/2, c+maxDeblur/2
	}
	return r
}

// blurGuesses are the PSFs tried for a crop: motion lines along the
// estimated direction when the gradients say so, then defocus.
func blurGuesses(angle, aniso float64, dst []psf) []psf {
	dst = dst[:0]
	if aniso > motionAniso {
		for _, l := range []float64{6, 9, 12} {
			dst = append(dst, psf{'m', l, angle})
		}
	}
	for _, g := range defocusGuesses {
		dst = append(dst, g)
	}
	return dst
}

// motionAniso is the gradient anisotropy above which motion is guessed.
const motionAniso = 0.25

var defocusGuesses = []psf{{'g', 1.8, 0}, {'g', 2.6, 0}, {'d', 3.5, 0}}

// wienerK is the Wiener filter's noise-to-signal ratio.
const wienerK = 0.003

// deblurStage deconvolves the target region of the frame with each PSF
// guess and tries to read the result.
func (f *frameCtx) deblurStage() (Result, bool) {
	r := f.codeRect()
	if r.Dx() < minSide || r.Dy() < minSide {
		return Result{}, false
	}
	d := f.d
	d.bufs.work = grow(d.bufs.work, r.Dx()*r.Dy())
	crop(d.bufs.work, f.pix, f.w, r)
	return f.deblur(img{d.bufs.work, r.Dx(), r.Dy(), scaled(float64(r.Min.X), float64(r.Min.Y), 1)})
}

// deblur deconvolves im with each PSF guess and tries to read the result,
// with gozxing's detector and with the grid sweep. An image of up to
// maxDeblur/2 on a side is doubled first (small modules survive
// deconvolution better on a finer grid).
func (f *frameCtx) deblur(im img) (Result, bool) {
	d := f.d
	if max(im.w, im.h) <= maxDeblur/2 {
		d.bufs.deblur = grow(d.bufs.deblur, 4*im.w*im.h)
		zw, zh := zoom2(d.bufs.deblur, im.pix, im.w, im.h, image.Rect(0, 0, im.w, im.h))
		v := im.v
		v.tx += v.a * -0.5
		v.ty += v.d * -0.5
		v.a, v.d = v.a/2, v.d/2
		im = img{d.bufs.deblur[:zw*zh], zw, zh, v}
	}
	cr := image.Rect(0, 0, im.w, im.h)
	if !d.db.load(im.pix, im.w, cr) {
		return Result{}, false
	}
	angle, aniso := motionAngle(im.pix, im.w, cr)
	d.guesses = blurGuesses(angle, aniso, d.guesses)
	saved := f.tgt
	defer func() { f.tgt = saved; d.bufs.smoothed = false }()
	for _, p := range d.guesses {
		if f.timeUp() {
			return Result{}, false
		}
		p.size /= im.v.a // PSF sizes are in frame pixels
		out := d.db.apply(p, wienerK)
		if f.invFirst {
			invert(out, out)
		}
		dim := img{out, im.w, im.h, im.v}
		if res, ok := f.try(dim, true); ok {
			return res, true
		}
		f.tgt = dim
		if res, ok := f.sweepStage(); ok {
			return res, true
		}
	}
	return Result{}, false
}
