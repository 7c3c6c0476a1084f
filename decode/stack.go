package decode

import (
	"hash/maphash"
	"image"
	"math"
	"sort"
	"time"
)

// Reading across frames. A hand-held phone whose code no single frame
// reads (autofocus hunting, sensor noise) stays in view for a few frames;
// the stack stage follows the textured square where the code probably is,
// registers each frame's crop on the first one (an affine Lucas-Kanade fit,
// inverse compositional, started from the previous frame's warp), keeps the
// sharpest few registered crops, and reads their average: averaging removes
// the sensor noise and the quantisation that hide the faint high
// frequencies of a defocused code, and Wiener deconvolution, which only
// amplifies noise on one frame, then restores them. The QR's own error
// correction and format checks decide; a crop that does not register
// (another code, the phone moved away) starts the stack again.

const (
	// stackKeep is the number of registered crops kept: the sharpest ones.
	stackKeep = 4
	// stackMaxSide bounds the stacked region's larger side (frame pixels).
	stackMaxSide = 320
	// stackMinNCC is the least normalised cross-correlation between a
	// registered crop and the template (or a kept crop) that counts as the
	// same code: crops of one code measured 0.96-0.998 across focus
	// changes, another code in the same place about 0.85.
	stackMinNCC = 0.93
	// stackMisses is the number of consecutive frames that fail to
	// register after which the stack starts again on the current frame.
	stackMisses = 2
	// stackSimilar is the least sharpness, relative to the sharpest kept
	// crop, of the crops averaged with it.
	stackSimilar = 0.8
	// stackEvery: in stream mode an attempt runs on every stackEvery-th
	// frame of a stack (an attempt costs a few cheap frames).
	stackEvery = 3
	// stackTTL drops a stack whose last frame is older than this.
	stackTTL = 1 * time.Second
)

var stackSeed = maphash.MakeSeed()

// stacker is the state of the stack stage across frames.
type stacker struct {
	size   image.Point     // frame size the stack belongs to
	r      image.Rectangle // template region, frame coordinates
	tw     int             // template width (r.Dx())
	th     int
	tmpl   []float32
	sd     [][6]float32 // steepest-descent images of the template (sampled pixels)
	idx    []int32      // sampled template pixel indices
	hinv   [6][6]float64
	tmean  float64
	tstd   float64
	a      [6]float64 // last warp, template → frame: x' = a0 x + a1 y + a2, y' = a3 x + a4 y + a5
	crops  []stackCrop
	free   [][]float32
	n      int // frames registered (the template counts)
	miss   int
	at     time.Time
	last   uint64        // hash of the last frame's pixels
	cost   time.Duration // the longest attempt's time (stream mode)
	idle   int           // frames since the last attempt (stream mode)
	loaded int           // which image the deblurrer holds (avgKey's values), -1 none
	step   int           // next attempt in stream mode
	dirty  bool          // crops changed since the average was built
	avg    []byte
	avgKey int       // which crops avg holds: how many, negative for the mean
	used   []int     // the kept crops avg is made of
	cur    []float32 // this frame's registered crop
	warpd  []float32
}

type stackCrop struct {
	pix   []float32
	sharp float64
}

// reset drops the stack.
func (s *stacker) reset() {
	for _, c := range s.crops {
		s.free = append(s.free, c.pix)
	}
	s.crops = s.crops[:0]
	s.n, s.miss, s.step, s.cost, s.idle = 0, 0, 0, 0, 0
	s.r = image.Rectangle{}
	s.dirty = false
}

// locateCode finds the largest square of the frame that is textured
// almost everywhere: the code of a phone screen, even when too blurred
// for any finder pattern to show. It works on blocks of about 1/80 of the
// frame and returns the square in frame coordinates.
func locateCode(pix []byte, w, h int) (image.Rectangle, bool) {
	b := max(4, max(w, h)/80)
	bw, bh := w/b, h/b
	if bw < 4 || bh < 4 {
		return image.Rectangle{}, false
	}
	sd := make([]float64, bw*bh)
	for by := 0; by < bh; by++ {
		for bx := 0; bx < bw; bx++ {
			var s, ss float64
			n := 0
			for y := by * b; y < (by+1)*b; y += 2 {
				row := pix[y*w+bx*b : y*w+(bx+1)*b]
				for x := 0; x < b; x += 2 {
					v := float64(row[x])
					s += v
					ss += v * v
					n++
				}
			}
			m := s / float64(n)
			sd[by*bw+bx] = math.Sqrt(math.Max(ss/float64(n)-m*m, 0))
		}
	}
	// a block is "on" when its local variation is well above the frame's
	// typical one: a fraction of a high percentile, at least a floor.
	sorted := append([]float64(nil), sd...)
	sort.Float64s(sorted)
	hi := sorted[len(sorted)*98/100]
	t := math.Max(0.3*hi, 6)
	on := make([]int32, (bw+1)*(bh+1)) // integral image of on-blocks
	for y := 0; y < bh; y++ {
		var rs int32
		for x := 0; x < bw; x++ {
			if sd[y*bw+x] >= t {
				rs++
			}
			on[(y+1)*(bw+1)+x+1] = on[y*(bw+1)+x+1] + rs
		}
	}
	count := func(x, y, s int) int32 {
		return on[(y+s)*(bw+1)+x+s] - on[y*(bw+1)+x+s] - on[(y+s)*(bw+1)+x] + on[y*(bw+1)+x]
	}
	for s := min(bw, bh); s >= 4; s-- {
		need := int32(math.Ceil(0.85 * float64(s*s)))
		bestX, bestY, best := -1, -1, int32(-1)
		for y := 0; y+s <= bh; y++ {
			for x := 0; x+s <= bw; x++ {
				if c := count(x, y, s); c >= need && c > best {
					bestX, bestY, best = x, y, c
				}
			}
		}
		if bestX >= 0 {
			// a margin for the quiet zone, the corners (blur fades
			// them) and the deconvolution's taper
			m := max(2*b, s*b/5)
			r := image.Rect(bestX*b-m, bestY*b-m, (bestX+s)*b+m, (bestY+s)*b+m)
			return r.Intersect(image.Rect(0, 0, w, h)), true
		}
	}
	return image.Rectangle{}, false
}

// start makes the region r of the frame the stack's template.
func (s *stacker) start(pix []byte, w, h int, r image.Rectangle, now time.Time) {
	s.reset()
	s.size, s.r, s.tw, s.th, s.at = image.Pt(w, h), r, r.Dx(), r.Dy(), now
	n := s.tw * s.th
	s.tmpl = growF(s.tmpl, n)
	var sum, ss float64
	for y := 0; y < s.th; y++ {
		row := pix[(r.Min.Y+y)*w+r.Min.X:]
		for x := 0; x < s.tw; x++ {
			v := float32(row[x])
			s.tmpl[y*s.tw+x] = v
			sum += float64(v)
			ss += float64(v) * float64(v)
		}
	}
	s.tmean = sum / float64(n)
	s.tstd = math.Sqrt(math.Max(ss/float64(n)-s.tmean*s.tmean, 1e-6))
	// steepest-descent images on every other pixel, away from the border
	s.sd, s.idx = s.sd[:0], s.idx[:0]
	var hm [6][6]float64
	for y := 1; y < s.th-1; y += 2 {
		for x := 1; x < s.tw-1; x += 2 {
			i := y*s.tw + x
			gx := (s.tmpl[i+1] - s.tmpl[i-1]) / 2
			gy := (s.tmpl[i+s.tw] - s.tmpl[i-s.tw]) / 2
			fx, fy := float32(x), float32(y)
			v := [6]float32{gx * fx, gx * fy, gx, gy * fx, gy * fy, gy}
			s.sd = append(s.sd, v)
			s.idx = append(s.idx, int32(i))
			for a := 0; a < 6; a++ {
				for b := 0; b < 6; b++ {
					hm[a][b] += float64(v[a]) * float64(v[b])
				}
			}
		}
	}
	inv, ok := invert6(hm)
	if !ok {
		s.reset()
		return
	}
	s.hinv = inv
	s.a = [6]float64{1, 0, float64(r.Min.X), 0, 1, float64(r.Min.Y)}
	s.n = 1
	s.keep(s.tmpl)
}

// register fits the frame to the template, starting from the last warp,
// and reports whether it registered (the normalised cross-correlation of
// the warped crop with the template is high enough).
func (s *stacker) register(pix []byte, w, h int) bool {
	a := s.a
	for it := 0; it < 30; it++ {
		var b [6]float64
		var mean float64
		cnt := 0
		// bias: the frame's mean over the template's (exposure changes)
		for k, i := range s.idx {
			x, y := float64(int(i)%s.tw), float64(int(i)/s.tw)
			v, ok := bilinear(pix, w, h, a[0]*x+a[1]*y+a[2], a[3]*x+a[4]*y+a[5])
			if !ok {
				return false
			}
			e := v - float64(s.tmpl[i])
			mean += e
			cnt++
			sd := &s.sd[k]
			for j := 0; j < 6; j++ {
				b[j] += float64(sd[j]) * e
			}
		}
		mean /= float64(cnt)
		var sdSum [6]float64
		for k := range s.sd {
			for j := 0; j < 6; j++ {
				sdSum[j] += float64(s.sd[k][j])
			}
		}
		var dp [6]float64
		for i := 0; i < 6; i++ {
			for j := 0; j < 6; j++ {
				dp[i] += s.hinv[i][j] * (b[j] - mean*sdSum[j])
			}
		}
		// W(x; a) ∘ W(x; dp)^-1
		d := [6]float64{1 + dp[0], dp[1], dp[2], dp[3], 1 + dp[4], dp[5]}
		di, ok := invAffine(d)
		if !ok {
			return false
		}
		a = composeAffine(a, di)
		if math.Abs(dp[2])+math.Abs(dp[5]) < 0.01 && math.Abs(dp[0])+math.Abs(dp[1])+math.Abs(dp[3])+math.Abs(dp[4]) < 1e-4 {
			break
		}
	}
	// sanity: a hand-held phone does not shrink, grow or shear much
	// between frames of one stack
	if det := a[0]*a[4] - a[1]*a[3]; det < 0.7 || det > 1.4 {
		return false
	}
	// warp the whole template region and compare
	n := s.tw * s.th
	s.warpd = growF(s.warpd, n)
	var sx, sy, sxx, syy, sxy float64
	for y := 0; y < s.th; y++ {
		for x := 0; x < s.tw; x++ {
			v, ok := bilinear(pix, w, h, a[0]*float64(x)+a[1]*float64(y)+a[2], a[3]*float64(x)+a[4]*float64(y)+a[5])
			if !ok {
				return false
			}
			t := float64(s.tmpl[y*s.tw+x])
			s.warpd[y*s.tw+x] = float32(v)
			sx += v
			sy += t
			sxx += v * v
			syy += t * t
			sxy += v * t
		}
	}
	fn := float64(n)
	cov := sxy/fn - sx/fn*sy/fn
	vx, vy := sxx/fn-sx/fn*sx/fn, syy/fn-sy/fn*sy/fn
	if vx <= 0 || vy <= 0 || cov/math.Sqrt(vx*vy) < stackMinNCC {
		return false
	}
	s.a = a
	return true
}

// keep adds a registered crop, keeping the sharpest stackKeep.
func (s *stacker) keep(pix []float32) {
	sh := sharpnessF(pix, s.tw, s.th)
	if len(s.crops) == stackKeep {
		worst := 0
		for i, c := range s.crops {
			if c.sharp < s.crops[worst].sharp {
				worst = i
			}
		}
		if s.crops[worst].sharp >= sh {
			return
		}
		s.free = append(s.free, s.crops[worst].pix)
		s.crops = append(s.crops[:worst], s.crops[worst+1:]...)
	}
	var buf []float32
	if k := len(s.free); k > 0 {
		buf, s.free = s.free[k-1], s.free[:k-1]
	}
	buf = growF(buf, len(pix))
	copy(buf, pix)
	s.crops = append(s.crops, stackCrop{buf, sh})
	s.dirty = true
}

// average returns the sharpest kept crop (all false) or the mean of the
// kept crops nearly as sharp as it (all true: averaging removes noise, but
// a crop blurred more than the sharpest would blur the mean), contrast
// stretched to bytes, and how many crops it holds.
func (s *stacker) average(all bool) ([]byte, int) {
	n := s.tw * s.th
	best := 0
	for i, c := range s.crops {
		if c.sharp > s.crops[best].sharp {
			best = i
		}
	}
	use := s.used[:0]
	for i, c := range s.crops {
		if i == best || all && c.sharp >= stackSimilar*s.crops[best].sharp {
			use = append(use, i)
		}
	}
	s.used = use
	key := len(use)
	if all {
		key = -key
	}
	if !s.dirty && len(s.avg) == n && s.avgKey == key {
		return s.avg, len(use)
	}
	s.avg = grow(s.avg, n)
	lo, hi := math.Inf(1), math.Inf(-1)
	s.warpd = growF(s.warpd, n)
	acc := s.warpd
	for i := range acc {
		acc[i] = 0
	}
	for _, k := range use {
		for i, v := range s.crops[k].pix {
			acc[i] += v
		}
	}
	for _, v := range acc {
		lo, hi = math.Min(lo, float64(v)), math.Max(hi, float64(v))
	}
	sc := 255 / math.Max(hi-lo, 1e-6)
	for i, v := range acc {
		s.avg[i] = byte(clampi(int((float64(v)-lo)*sc+0.5), 0, 255))
	}
	s.dirty, s.avgKey = false, key
	return s.avg, len(use)
}

// current reports whether every crop of the last average correlates with
// this frame's registered crop as crops of one code do.
func (s *stacker) current() bool {
	if len(s.cur) != s.tw*s.th {
		return false
	}
	for _, i := range s.used {
		if nccF(s.crops[i].pix, s.cur) < stackMinNCC {
			return false
		}
	}
	return true
}

// nccF is the normalised cross-correlation of two images of one size.
func nccF(a, b []float32) float64 {
	var sa, sb, saa, sbb, sab float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		sa += x
		sb += y
		saa += x * x
		sbb += y * y
		sab += x * y
	}
	n := float64(len(a))
	cov := sab/n - sa/n*sb/n
	va, vb := saa/n-sa/n*sa/n, sbb/n-sb/n*sb/n
	if va <= 0 || vb <= 0 {
		return 0
	}
	return cov / math.Sqrt(va*vb)
}

// similar is the number of kept crops nearly as sharp as the sharpest
// (itself included): the crops the mean is made of.
func (s *stacker) similar() int {
	best := 0.0
	for _, c := range s.crops {
		best = max(best, c.sharp)
	}
	n := 0
	for _, c := range s.crops {
		if c.sharp >= stackSimilar*best {
			n++
		}
	}
	return n
}

// sharpnessF is the mean squared gradient of a float image.
func sharpnessF(pix []float32, w, h int) float64 {
	var sum float64
	for y := 0; y < h-1; y++ {
		for x := 0; x < w-1; x++ {
			i := y*w + x
			gx := float64(pix[i+1] - pix[i])
			gy := float64(pix[i+w] - pix[i])
			sum += gx*gx + gy*gy
		}
	}
	return sum / float64(max(1, (w-1)*(h-1)))
}

func bilinear(pix []byte, w, h int, x, y float64) (float64, bool) {
	if !(x >= 0 && y >= 0 && x < float64(w-1) && y < float64(h-1)) {
		return 0, false
	}
	x0, y0 := int(x), int(y)
	fx, fy := x-float64(x0), y-float64(y0)
	i := y0*w + x0
	a, b, c, d := float64(pix[i]), float64(pix[i+1]), float64(pix[i+w]), float64(pix[i+w+1])
	return (a*(1-fx)+b*fx)*(1-fy) + (c*(1-fx)+d*fx)*fy, true
}

func invAffine(a [6]float64) ([6]float64, bool) {
	det := a[0]*a[4] - a[1]*a[3]
	if math.Abs(det) < 1e-9 {
		return a, false
	}
	i0, i1, i3, i4 := a[4]/det, -a[1]/det, -a[3]/det, a[0]/det
	return [6]float64{i0, i1, -(i0*a[2] + i1*a[5]), i3, i4, -(i3*a[2] + i4*a[5])}, true
}

// composeAffine returns p∘q: x ↦ p(q(x)).
func composeAffine(p, q [6]float64) [6]float64 {
	return [6]float64{
		p[0]*q[0] + p[1]*q[3], p[0]*q[1] + p[1]*q[4], p[0]*q[2] + p[1]*q[5] + p[2],
		p[3]*q[0] + p[4]*q[3], p[3]*q[1] + p[4]*q[4], p[3]*q[2] + p[4]*q[5] + p[5],
	}
}

// invert6 inverts a 6x6 matrix by Gauss-Jordan elimination.
func invert6(m [6][6]float64) ([6][6]float64, bool) {
	var inv [6][6]float64
	for i := range inv {
		inv[i][i] = 1
	}
	for c := 0; c < 6; c++ {
		p := c
		for r := c + 1; r < 6; r++ {
			if math.Abs(m[r][c]) > math.Abs(m[p][c]) {
				p = r
			}
		}
		if math.Abs(m[p][c]) < 1e-12 {
			return inv, false
		}
		m[c], m[p] = m[p], m[c]
		inv[c], inv[p] = inv[p], inv[c]
		k := 1 / m[c][c]
		for j := 0; j < 6; j++ {
			m[c][j] *= k
			inv[c][j] *= k
		}
		for r := 0; r < 6; r++ {
			if r == c || m[r][c] == 0 {
				continue
			}
			f := m[r][c]
			for j := 0; j < 6; j++ {
				m[r][j] -= f * m[c][j]
				inv[r][j] -= f * inv[c][j]
			}
		}
	}
	return inv, true
}

func growF(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}

// stackFrame is the stack stage: it adds the frame to the stack (or starts
// one on the frame's textured square) and, from the second registered
// frame on, tries to read the average, plain and deconvolved. In stream
// mode it runs one attempt per frame, going round the attempts; otherwise
// all of them, within the budget, whenever the kept crops changed.
func (f *frameCtx) stackFrame(now time.Time) (Result, bool) {
	d := f.d
	s := &d.stack
	// What the stack's attempts see (finders in a deconvolved average) is
	// not the frame's evidence: refocus requests follow the frame alone.
	// The stack's age counts from the end of its last frame's work, so
	// that slow attempts on one frame do not age it.
	codeLike, triple := f.codeLike, f.triple
	defer func() {
		f.codeLike, f.triple = codeLike, triple
		if s.n > 0 {
			s.at = f.d.o.Clock.Now()
		}
	}()
	if s.n > 0 && (s.size != image.Pt(f.w, f.h) || now.Sub(s.at) > stackTTL) {
		s.reset()
	}
	// a repeated frame (the same bytes: a stalled source) adds nothing
	sum := maphash.Bytes(stackSeed, f.pix)
	if s.n > 0 && sum == s.last {
		return Result{}, false
	}
	s.last = sum
	if s.n > 0 {
		if s.register(f.pix, f.w, f.h) {
			s.cur = append(s.cur[:0], s.warpd...)
			s.keep(s.warpd)
			s.n++
			s.miss = 0
		} else {
			s.miss++
			if s.miss < stackMisses {
				return Result{}, false
			}
			s.reset()
		}
	}
	if s.n == 0 {
		r, ok := locateCode(f.pix, f.w, f.h)
		if !ok {
			return Result{}, false
		}
		if r.Dx() > stackMaxSide {
			c := (r.Min.X + r.Max.X) / 2
			r.Min.X, r.Max.X = c-stackMaxSide/2, c+stackMaxSide/2
		}
		if r.Dy() > stackMaxSide {
			c := (r.Min.Y + r.Max.Y) / 2
			r.Min.Y, r.Max.Y = c-stackMaxSide/2, c+stackMaxSide/2
		}
		if r.Dx() < minSide || r.Dy() < minSide {
			return Result{}, false
		}
		s.start(f.pix, f.w, f.h, r, now)
		return Result{}, false
	}
	if s.n < 2 {
		return Result{}, false
	}
	if d.o.Stream {
		// one attempt every stackEvery frames, when the frame's budget
		// has room for it
		s.idle++
		if s.idle < stackEvery || s.cost > 0 && time.Since(f.start)+s.cost > d.o.Budget {
			return Result{}, false
		}
		t := stackTries[s.step%len(stackTries)]
		for i := 0; i < len(stackTries) && t.mean && s.similar() < 2; i++ {
			s.step++ // a mean of one crop is the sharpest crop: skip
			t = stackTries[s.step%len(stackTries)]
		}
		s.step++
		s.idle = 0
		t0 := time.Now()
		s.loaded = -1
		r, ok := f.stackAttempt(t)
		s.cost = max(s.cost, time.Since(t0))
		return r, ok
	}
	if !s.dirty {
		return Result{}, false
	}
	s.loaded = -1
	for k, t := range stackTries {
		if k > 0 && f.timeUp() {
			return Result{}, false
		}
		if r, ok := f.stackAttempt(t); ok {
			return r, true
		}
	}
	return Result{}, false
}

// stackTry is one attempt on the stack: on the sharpest crop or on the
// mean of those nearly as sharp, as it is (sigma 0) or deconvolved with a
// Gaussian of sigma frame pixels and noise ratio k.
type stackTry struct {
	mean     bool
	sigma, k float64
}

// stackTries are the attempts in order, the likeliest first (as measured
// on the corpus's defocus sequences).
var stackTries = []stackTry{
	{false, 2.6, 0.001}, {false, 2.1, 0.001}, {false, 1.6, 0.001}, {false, 3.1, 0.001},
	{true, 2.6, 0.001}, {true, 2.1, 0.001}, {true, 1.6, 0.001}, {true, 3.1, 0.001},
	{false, 0, 0}, {false, 2.1, 0.004}, {false, 2.6, 0.004}, {false, 1.6, 0.004}, {false, 3.1, 0.004},
	{true, 0, 0}, {true, 2.1, 0.004}, {true, 2.6, 0.004}, {true, 1.6, 0.004}, {true, 3.1, 0.004},
}

// stackAttempt runs one attempt on the stack.
func (f *frameCtx) stackAttempt(t stackTry) (res Result, ok bool) {
	d := f.d
	s := &d.stack
	defer func() {
		// A read counts only when every crop it came from still shows
		// what this frame shows: a code replaced by another in the same
		// place may register for a frame or two, and the sharpest crop
		// would then be the old code's.
		if ok && !s.current() {
			res, ok = Result{}, false
		}
	}()
	pix, used := s.average(t.mean)
	if t.mean && used < 2 {
		return Result{}, false // the same as the sharpest crop alone
	}
	im := img{pix, s.tw, s.th, scaled(float64(s.r.Min.X), float64(s.r.Min.Y), 1)}
	saved := f.tgt
	defer func() { f.tgt = saved; d.bufs.smoothed = false }()
	if t.sigma == 0 {
		if r, ok := f.both(im, true); ok {
			return r, true
		}
		f.tgt = im
		return f.sweepStage()
	}
	// Stills mode doubles a small crop first (small modules survive
	// deconvolution better on a finer grid); stream mode does not, which
	// makes the transforms four times smaller and keeps an attempt within
	// a few cheap frames' time.
	if max(im.w, im.h) <= maxDeblur/2 && !d.o.Stream {
		d.bufs.deblur = grow(d.bufs.deblur, 4*im.w*im.h)
		zw, zh := zoom2(d.bufs.deblur, im.pix, im.w, im.h, image.Rect(0, 0, im.w, im.h))
		v := im.v
		v.tx += v.a * -0.5
		v.ty += v.d * -0.5
		v.a, v.d = v.a/2, v.d/2
		im = img{d.bufs.deblur[:zw*zh], zw, zh, v}
	}
	// the transform of this image may still be loaded from the last attempt
	key := used
	if t.mean {
		key = -used
	}
	if s.loaded != key {
		if !d.db.load(im.pix, im.w, image.Rect(0, 0, im.w, im.h)) {
			s.loaded = -1
			return Result{}, false
		}
		s.loaded = key
	}
	out := d.db.apply(psf{'g', t.sigma / im.v.a, 0}, t.k)
	if f.invFirst {
		invert(out, out)
	}
	dim := img{out, im.w, im.h, im.v}
	if r, ok := f.try(dim, true); ok {
		return r, true
	}
	f.tgt = dim
	return f.sweepStage()
}
