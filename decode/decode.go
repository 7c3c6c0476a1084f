// Package decode reads QR codes in grey camera frames. gozxing is the core
// decoder; around it sits a cascade of attempts tuned for codes shown on
// phone screens, run inside a per-frame time budget, and an autofocus-aware
// frame filter that skips clearly blurrier frames and asks the camera to
// refocus when a code is seen but does not read and the lens has settled.
//
// The cascade, in order, stopping at the first success or when the budget
// is spent:
//
//	roi       the region where the last code was found (tracking), both
//	          polarities
//	base      the frame (halved until its larger side is at most 1000 px),
//	          HybridBinarizer
//	          gate: our own finder-pattern scan of the binarized frame; with
//	          no candidate and nothing code-like, the frame is "no code"
//	denoise   when the binarized frame is full of false finders (sensor
//	          noise): a 3x3 mean, and candidates found on a smoothed frame
//	base-inv  inverted luminance (dark mode) when candidates say so;
//	          gozxing's ALSO_INVERTED hint does nothing, so we invert
//	zoom      the candidates' region from the full-resolution frame,
//	          doubled when modules are small (distant codes); it becomes
//	          the target of the stages below
//	sweep     finders from gozxing or our candidates, grid sampled for
//	          several dimensions around the estimate (tilt)
//	deglare   local black-floor stretch against glare hot spots
//	triples   finder triples beyond the six largest candidates, best
//	          shaped first: a small code inside a larger picture or
//	          code-like design
//	zoom4     the doubled crop doubled again (modules of about 2 px)
//	tiny      the candidates' region enlarged three times with cubic
//	          interpolation (modules of one to three pixels)
//	global    GlobalHistogramBinarizer, both polarities
//	stretch   contrast stretched (low light), both polarities
//	smooth    3x3 mean (screen moiré, noise), both polarities
//	sharpen   unsharp mask (slight defocus)
//	dots      3x3 grey erosion: dark dots of art codes grown towards
//	          their modules' squares
//	grid      the sweep's finder triples sampled through a fitted grid:
//	          offsets at nodes every few modules, found from the finders
//	          outwards (codes on bottles, wrinkled paper)
//	fullres   finer levels, down to the full-resolution frame, when base
//	          was halved (for frames over 2000 px, candidates are also
//	          looked for one level finer before the gate gives up)
//	deblur    Wiener deconvolution of the target region (doubled when
//	          small) with a few PSF guesses: motion lines along the
//	          direction the gradients say, Gaussian and disk defocus; each
//	          result goes to the detector and the sweep
//	opencv    OpenCV QRCodeDetector.Detect corners + warp + gozxing, in
//	          cgo builds without the nocv tag
//
// When the cascade fails, the stack stage (stack.go) reads across frames:
// it follows the frame's textured square over consecutive Decode calls,
// registers each crop on the first, and reads the average of the
// sharpest, plain and deconvolved (Options.NoStack turns it off).
//
// Stages from triples on run only with a sign of a code: gozxing found
// finder patterns, our candidates form a finder triple, or a code was read
// here recently. Rotation is left to gozxing's detector, which reads any
// in-plane angle; the sweep and the OpenCV warp handle perspective.
package decode

import (
	"errors"
	"fmt"
	"image"
	"log/slog"
	"time"

	"github.com/kipass/kipass/clock"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	"github.com/makiuchi-d/gozxing/qrcode/decoder"
)

// Result is a decoded code.
type Result struct {
	// Text is the code's content.
	Text string
	// Region is where the code was found, in frame coordinates.
	Region image.Rectangle
}

// Focuser is implemented by cameras that can be asked to run autofocus
// again. Refocus should start the focus sweep and return quickly.
type Focuser interface {
	Refocus() error
}

// Options configure a Decoder. The zero value is usable.
type Options struct {
	// Budget is the time a Decode call may spend on one frame; the first
	// attempt always runs. 0 means 100 ms (a hard frame may cost a few camera
	// frames; easy frames take a few ms).
	Budget time.Duration
	// Focuser, if set, is asked to refocus when code-like frames keep
	// failing. The decoder works without one.
	Focuser Focuser
	// Clock paces refocus requests and the ROI's lifetime; default
	// clock.Real{}.
	Clock clock.Clock
	// RefocusAfter is the number of consecutive failed code-like frames
	// that triggers a refocus; default 3.
	RefocusAfter int
	// RefocusEvery is the least time between two refocus requests;
	// default 500 ms, about one focus sweep. Requests wait for the lens to
	// settle (sharpness steady over the last frames), so a request never
	// lands in a sweep the camera is running anyway: a UVC camera would
	// restart it, others ignore it.
	RefocusEvery time.Duration
	// SkipBlurry skips frames clearly blurrier than recent ones: their
	// sharpness is below SkipBelow times the running best. Turn it on for
	// camera streams (the daemon), leave it off for unrelated stills.
	SkipBlurry bool
	// SkipBelow is the sharpness ratio for SkipBlurry; default 0.5.
	SkipBelow float64
	// Log receives debug events (refocus requests, their errors). It
	// never receives decoded text. Default: discard.
	Log *slog.Logger
	// NoOpenCV disables the OpenCV stage in cgo builds.
	NoOpenCV bool
	// Stream says that frames are consecutive camera frames: the costly
	// stages of the cascade are spread over the frames of a code-like
	// region, each frame going on from the stage where the previous one
	// stopped, so that one frame's work stays near Slice. Budget still
	// caps a frame; set it to the frame interval. Leave Stream off for
	// unrelated stills, which get the whole cascade each.
	Stream bool
	// NoStack turns off reading across frames (the stack stage: a code
	// that persists over consecutive frames, none of which reads alone,
	// read from their registered average). It runs only on a region seen
	// in at least two consecutive Decode calls, so unrelated stills with
	// Reset between them never use it.
	NoStack bool
	// Slice is the work per frame in stream mode after which no further
	// stage starts (at least one stage past the zoom runs); default 5 ms.
	Slice time.Duration
}

// Stats counts what a Decoder did since New or ResetStats.
type Stats struct {
	// Frames is the number of Decode calls.
	Frames int
	// Decoded is the number of frames read.
	Decoded int
	// Skipped is the number of frames skipped as blurrier than recent ones.
	Skipped int
	// Refocus is the number of refocus requests sent.
	Refocus int
	// OverBudget is the number of frames whose cascade stopped on time.
	OverBudget int
	// ByStage counts successes per cascade stage.
	ByStage map[string]int
}

// Decoder reads QR codes from frames. It reuses buffers between frames, so
// it is not safe for concurrent use: use one Decoder per goroutine.
type Decoder struct {
	o       Options
	reader  gozxing.Reader
	qr      *decoder.Decoder // gozxing's QR bit-matrix decoder, for sweep
	hints   map[gozxing.DecodeHintType]interface{}
	bufs    buffers
	cands   []candidate
	cands2  []candidate
	stats   Stats
	cv      cvStage // nil when OpenCV is not built in or disabled
	db      deblurrer
	guesses []psf

	// tracking and focus state
	roi        image.Rectangle // last region found, frame coords
	roiAt      time.Time
	roiSize    image.Point // frame size the roi belongs to
	best       float64     // running best sharpness
	seen       int         // frames scored since reset
	skips      int         // consecutive skipped frames
	fails      int         // consecutive failed code-like frames
	lastFocus  time.Time
	focusAsked bool
	recent     [steadyFrames]float64 // the last frames' sharpness, a ring indexed by seen
	resume     int                   // stream mode: the stage the next code-like frame starts at
	resumeLike bool                  // stream mode: the frames before resume saw a code
	stack      stacker
}

type buffers struct {
	frame, base, inv, work, work2, work3, zoom, zoom4, smooth, blk, level, deblur []byte
	tmp                                                                           []uint16
	black                                                                         []int32        // the binarizer's black points
	glare                                                                         []deglareBlock // deglare's block floors
	smoothed                                                                      bool           // smooth holds box3(target) for this frame

	tiny    []byte    // the tiny stage's enlargement
	tinyRow []float32 // its rows enlarged
}

// New returns a Decoder.
func New(o Options) *Decoder {
	if o.Budget <= 0 {
		o.Budget = 100 * time.Millisecond
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.RefocusAfter <= 0 {
		o.RefocusAfter = 3
	}
	if o.RefocusEvery <= 0 {
		o.RefocusEvery = 500 * time.Millisecond
	}
	if o.Slice <= 0 {
		o.Slice = 5 * time.Millisecond
	}
	if o.SkipBelow <= 0 {
		o.SkipBelow = 0.5
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	d := &Decoder{
		o:      o,
		reader: qrcode.NewQRCodeReader(),
		qr:     decoder.NewDecoder(),
		// gozxing switches a hint on by the key's presence, whatever its
		// value: only put in the hints we want on.
		hints: map[gozxing.DecodeHintType]interface{}{gozxing.DecodeHintType_TRY_HARDER: true},
		stats: Stats{ByStage: map[string]int{}},
	}
	if !o.NoOpenCV {
		d.cv = newCVStage()
	}
	return d
}

// Close releases resources of the OpenCV stage, if any.
func (d *Decoder) Close() error {
	if d.cv != nil {
		d.cv.close()
		d.cv = nil
	}
	return nil
}

// Reset forgets what the decoder learnt from earlier frames (last region,
// sharpness history, failure count), keeping its buffers. Use it between
// unrelated stills.
func (d *Decoder) Reset() {
	d.roi = image.Rectangle{}
	d.best, d.seen, d.skips, d.fails = 0, 0, 0, 0
	d.resume = 0
	d.stack.reset()
}

// Stats returns a copy of the decoder's counters.
func (d *Decoder) Stats() Stats {
	s := d.stats
	s.ByStage = make(map[string]int, len(d.stats.ByStage))
	for k, v := range d.stats.ByStage {
		s.ByStage[k] = v
	}
	return s
}

const (
	minSide  = 21   // smallest frame side that can hold a version 1 code
	maxBase  = 1000 // frames with a larger side are halved for the base pass
	roiTTL   = 1500 * time.Millisecond
	bestKeep = 0.93 // running best sharpness decays by this per frame
	maxSkips = 4    // never skip more frames than this in a row
)

// Decode returns the QR text in the frame, or an error wrapping ErrNoCode
// (ErrSkipped, also wrapping ErrNoCode, when the frame was skipped as
// blurry). It never panics, whatever the frame.
func (d *Decoder) Decode(img *image.Gray) (res Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = Result{}, fmt.Errorf("decode: internal error on %v frame: %w", frameSize(img), ErrNoCode)
		}
	}()
	d.stats.Frames++
	if img == nil {
		return Result{}, fmt.Errorf("decode: nil frame: %w", ErrNoCode)
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w < minSide || h < minSide || len(img.Pix) < (h-1)*img.Stride+w || img.Stride < w {
		return Result{}, fmt.Errorf("decode: frame %dx%d: %w", w, h, ErrNoCode)
	}
	start := d.o.Clock.Now()
	t0 := time.Now()
	deadline := t0.Add(d.o.Budget)
	pix := d.contiguous(img)
	d.bufs.smoothed = false

	if flat(pix, w, h) {
		return Result{}, fmt.Errorf("decode: flat %dx%d frame: %w", w, h, ErrNoCode)
	}
	if d.skipBlurry(pix, w, h) {
		d.stats.Skipped++
		return Result{}, fmt.Errorf("decode: %w", errors.Join(ErrSkipped, ErrNoCode))
	}
	f := &frameCtx{d: d, pix: pix, w: w, h: h, start: t0, deadline: deadline}
	roiLive := d.roiSize == image.Pt(w, h) && !d.roi.Empty() && start.Sub(d.roiAt) < roiTTL
	r, stage, ok := f.cascade(roiLive)
	if ok {
		d.stack.reset()
	} else if d.o.NoStack {
		// no reading across frames
	} else if r, ok = f.stackFrame(start); ok {
		stage = "stack"
	}
	if ok {
		r.Region = r.Region.Add(b.Min).Intersect(b)
		d.stats.Decoded++
		d.stats.ByStage[stage]++
		d.roi, d.roiAt, d.roiSize = r.Region.Sub(b.Min), start, image.Pt(w, h)
		d.fails = 0
		return r, nil
	}
	if f.overBudget {
		d.stats.OverBudget++
	}
	if f.codeLike || f.triple || roiLive || f.passed && len(f.cands) > 0 {
		d.fails++
		d.maybeRefocus(start)
	}
	return Result{}, fmt.Errorf("decode: %w", ErrNoCode)
}

// flat reports whether a coarse sample of the frame has almost no
// contrast (a single colour, a covered lens): no code can be there.
func flat(pix []byte, w, h int) bool {
	lo, hi := byte(255), byte(0)
	sy, sx := max(h/64, 1), max(w/64, 1)
	for y := 0; y < h; y += sy {
		row := pix[y*w : (y+1)*w]
		for x := 0; x < w; x += sx {
			lo, hi = min(lo, row[x]), max(hi, row[x])
		}
	}
	return int(hi)-int(lo) < 12
}

func frameSize(img *image.Gray) string {
	if img == nil {
		return "nil"
	}
	return fmt.Sprintf("%dx%d", img.Bounds().Dx(), img.Bounds().Dy())
}

// skipBlurry scores the frame's sharpness against the running best and
// reports whether it is clearly blurrier than recent frames.
func (d *Decoder) skipBlurry(pix []byte, w, h int) bool {
	s := sharpness(pix, w, h)
	d.recent[d.seen%steadyFrames] = s
	d.seen++
	d.best *= bestKeep
	if s >= d.best {
		d.best = s
		d.skips = 0
		return false
	}
	if d.o.SkipBlurry && d.seen > 2 && d.skips < maxSkips && s < d.o.SkipBelow*d.best {
		d.skips++
		return true
	}
	d.skips = 0
	return false
}

// steadyFrames is the number of recent frames whose sharpness must agree
// (within steadySpread) before a refocus is asked: while the lens is
// still sweeping by itself, sharpness swings from frame to frame, and a
// request would restart the sweep (UVC cameras) or be ignored and hold
// back the next one by RefocusEvery.
const (
	steadyFrames = 4
	steadySpread = 1.6
)

// steady reports whether the last frames (up to steadyFrames, at least
// RefocusAfter of them when the decoder is fresh) were about as sharp as
// each other: the lens has settled, wherever it settled.
func (d *Decoder) steady() bool {
	n := min(d.seen, steadyFrames)
	if n == 0 {
		return false
	}
	lo, hi := d.recent[0], d.recent[0]
	for _, v := range d.recent[1:n] {
		lo, hi = min(lo, v), max(hi, v)
	}
	return hi <= steadySpread*lo
}

// maybeRefocus asks the camera to refocus after RefocusAfter failed
// code-like frames, once the lens has settled (see steady), at most once
// per RefocusEvery.
func (d *Decoder) maybeRefocus(now time.Time) {
	if d.o.Focuser == nil || d.fails < d.o.RefocusAfter || !d.steady() {
		return
	}
	if d.focusAsked && now.Sub(d.lastFocus) < d.o.RefocusEvery {
		return
	}
	d.focusAsked, d.lastFocus = true, now
	d.fails = 0
	d.stats.Refocus++
	// The focus state changes: sharpness history no longer applies.
	d.best, d.seen, d.skips = 0, 0, 0
	if err := d.o.Focuser.Refocus(); err != nil {
		d.o.Log.Debug("decode: refocus request failed", "err", err)
		return
	}
	d.o.Log.Debug("decode: asked camera to refocus")
}

// contiguous returns the frame's pixels as one w*h slice, copying into a
// reused buffer only when the image has padding or a sub-image offset.
func (d *Decoder) contiguous(img *image.Gray) []byte {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if img.Stride == w && len(img.Pix) >= w*h {
		return img.Pix[:w*h]
	}
	d.bufs.frame = grow(d.bufs.frame, w*h)
	for y := 0; y < h; y++ {
		off := y * img.Stride
		copy(d.bufs.frame[y*w:(y+1)*w], img.Pix[off:off+w])
	}
	return d.bufs.frame
}

func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

// view maps attempt coordinates back to frame coordinates with an affine
// map: frame = (a*x + b*y + tx, c*x + d*y + ty).
type view struct {
	a, b, c, d, tx, ty float64
}

// scaled is the view of an attempt image that is the frame region at
// (ox, oy) resampled by 1/scale.
func scaled(ox, oy, scale float64) view {
	return view{a: scale, d: scale, tx: ox, ty: oy}
}

func (v view) apply(x, y float64) (float64, float64) {
	return v.a*x + v.b*y + v.tx, v.c*x + v.d*y + v.ty
}

var identity = scaled(0, 0, 1)

// attempt runs gozxing once on a w*h luminance buffer. codeLike reports
// that finder patterns were found even though the code did not read; m is
// the binarized image. It recovers from any panic inside gozxing and
// reports a failed attempt.
func (d *Decoder) attempt(pix []byte, w, h int, hybrid bool, v view) (res Result, ok, codeLike bool, m *gozxing.BitMatrix) {
	defer func() {
		if recover() != nil {
			res, ok, codeLike, m = Result{}, false, false, nil
		}
	}()
	src := &lumSource{pix: pix, w: w, h: h}
	var bin gozxing.Binarizer
	if hybrid {
		bin = newHybrid(src, &d.bufs.black)
	} else {
		bin = gozxing.NewGlobalHistgramBinarizer(src)
	}
	bmp, err := gozxing.NewBinaryBitmap(bin)
	if err != nil {
		return Result{}, false, false, nil
	}
	r, err := d.reader.Decode(bmp, d.hints)
	d.reader.Reset()
	m, _ = bmp.GetBlackMatrix() // cached by the attempt
	if err != nil || r == nil {
		var nf gozxing.NotFoundException
		return Result{}, false, err != nil && !errors.As(err, &nf), m
	}
	return Result{Text: r.GetText(), Region: region(r.GetResultPoints(), w, h, v)}, true, true, m
}

// region turns the finder and alignment pattern centres of a result into
// a rectangle around the whole code, in frame coordinates.
func region(pts []gozxing.ResultPoint, w, h int, v view) image.Rectangle {
	if len(pts) == 0 {
		pts = []gozxing.ResultPoint{gozxing.NewResultPoint(0, 0), gozxing.NewResultPoint(float64(w), float64(h))}
	}
	minX, minY := v.apply(pts[0].GetX(), pts[0].GetY())
	maxX, maxY := minX, minY
	for _, p := range pts[1:] {
		x, y := v.apply(p.GetX(), p.GetY())
		minX, maxX = min(minX, x), max(maxX, x)
		minY, maxY = min(minY, y), max(maxY, y)
	}
	// Finder centres sit 3.5 modules inside the corners; pad by a quarter
	// of the span on each side to cover the corners and the quiet zone.
	pad := 0.25 * max(maxX-minX, maxY-minY)
	return image.Rect(int(minX-pad), int(minY-pad), int(maxX+pad+1), int(maxY+pad+1))
}
