// Package decode reads QR codes in grey camera frames. gozxing is the core
// decoder; around it sits a cascade of attempts tuned for codes shown on
// phone screens, run inside a per-frame time budget.
package decode

import (
	"fmt"
	"image"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

// Result is a decoded code.
type Result struct {
	// Text is the code's content.
	Text string
	// Region is where the code was found, in frame coordinates.
	Region image.Rectangle
}

// Options configure a Decoder. The zero value is usable.
type Options struct {
	// Budget is the time a Decode call may spend on one frame before it
	// gives up; 0 means 150 ms. The first attempt always runs.
	Budget time.Duration
}

// Decoder reads QR codes from frames. It reuses buffers between frames, so
// it is not safe for concurrent use: use one Decoder per goroutine.
type Decoder struct {
	o      Options
	reader gozxing.Reader
	hints  map[gozxing.DecodeHintType]interface{}
	frame  []byte // contiguous copy of the frame
	inv    []byte // inverted luminance
}

// New returns a Decoder.
func New(o Options) *Decoder {
	if o.Budget <= 0 {
		o.Budget = 150 * time.Millisecond
	}
	return &Decoder{
		o:      o,
		reader: qrcode.NewQRCodeReader(),
		// gozxing switches a hint on by the key's presence, whatever its
		// value: only put in the hints we want.
		hints: map[gozxing.DecodeHintType]interface{}{gozxing.DecodeHintType_TRY_HARDER: true},
	}
}

// minSide is the smallest frame side that can hold a version 1 code.
const minSide = 21

// Decode returns the QR text in the frame, or an error wrapping ErrNoCode.
// It never panics, whatever the frame.
func (d *Decoder) Decode(img *image.Gray) (Result, error) {
	if img == nil {
		return Result{}, fmt.Errorf("decode: nil frame: %w", ErrNoCode)
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w < minSide || h < minSide || len(img.Pix) < (h-1)*img.Stride+w {
		return Result{}, fmt.Errorf("decode: frame %dx%d: %w", w, h, ErrNoCode)
	}
	pix := d.contiguous(img)
	full := view{ox: b.Min.X, oy: b.Min.Y, scale: 1}
	if r, ok := d.attempt(pix, w, h, true, full); ok {
		r.Region = r.Region.Intersect(b)
		return r, nil
	}
	d.inv = grow(d.inv, w*h)
	for i, v := range pix {
		d.inv[i] = 255 - v
	}
	if r, ok := d.attempt(d.inv, w, h, true, full); ok {
		r.Region = r.Region.Intersect(b)
		return r, nil
	}
	return Result{}, fmt.Errorf("decode: %w", ErrNoCode)
}

// contiguous returns the frame's pixels as one w*h slice, copying into a
// reused buffer only when the image has padding or a sub-image offset.
func (d *Decoder) contiguous(img *image.Gray) []byte {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if img.Stride == w && b.Min == (image.Point{}) && len(img.Pix) >= w*h {
		return img.Pix[:w*h]
	}
	d.frame = grow(d.frame, w*h)
	for y := 0; y < h; y++ {
		off := y * img.Stride
		copy(d.frame[y*w:(y+1)*w], img.Pix[off:off+w])
	}
	return d.frame
}

func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

// view maps attempt coordinates back to frame coordinates:
// frame = origin + attempt*scale.
type view struct {
	ox, oy int
	scale  float64
}

// attempt runs gozxing once on a w*h luminance buffer. It recovers from any
// panic inside gozxing and reports it as a failed attempt.
func (d *Decoder) attempt(pix []byte, w, h int, hybrid bool, v view) (res Result, ok bool) {
	defer func() {
		if recover() != nil {
			res, ok = Result{}, false
		}
	}()
	src := &lumSource{pix: pix, w: w, h: h}
	var bin gozxing.Binarizer
	if hybrid {
		bin = gozxing.NewHybridBinarizer(src)
	} else {
		bin = gozxing.NewGlobalHistgramBinarizer(src)
	}
	bmp, err := gozxing.NewBinaryBitmap(bin)
	if err != nil {
		return Result{}, false
	}
	r, err := d.reader.Decode(bmp, d.hints)
	d.reader.Reset()
	if err != nil || r == nil {
		return Result{}, false
	}
	return Result{Text: r.GetText(), Region: region(r.GetResultPoints(), w, h, v)}, true
}

// region turns the finder and alignment pattern centres of a result into
// a rectangle around the whole code, in frame coordinates.
func region(pts []gozxing.ResultPoint, w, h int, v view) image.Rectangle {
	if len(pts) == 0 {
		return image.Rect(0, 0, w, h).Add(image.Pt(v.ox, v.oy))
	}
	minX, minY := pts[0].GetX(), pts[0].GetY()
	maxX, maxY := minX, minY
	for _, p := range pts[1:] {
		minX, maxX = min(minX, p.GetX()), max(maxX, p.GetX())
		minY, maxY = min(minY, p.GetY()), max(maxY, p.GetY())
	}
	// Finder centres sit 3.5 modules inside the corners; pad by a quarter
	// of the span on each side to cover the corners and the quiet zone.
	pad := 0.25 * max(maxX-minX, maxY-minY)
	r := image.Rect(
		int(float64(v.ox)+(float64(minX-pad))*v.scale),
		int(float64(v.oy)+(float64(minY-pad))*v.scale),
		int(float64(v.ox)+(float64(maxX+pad))*v.scale+1),
		int(float64(v.oy)+(float64(maxY+pad))*v.scale+1),
	)
	return r
}
