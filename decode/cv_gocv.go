//go:build cgo && !nocv

package decode

import (
	"image"
	"image/color"
	"math"

	"gocv.io/x/gocv"
)

// gocvStage localises a code with OpenCV's QRCodeDetector.Detect, warps it
// to a square and decodes the square with gozxing. Debian's OpenCV is built
// without QUIRC, so Decode/DetectAndDecode (gocv v0.31's Decode calls
// detect-and-decode too) would return ""; only Detect is used.
type gocvStage struct {
	det gocv.QRCodeDetector
}

func newCVStage() cvStage { return &gocvStage{det: gocv.NewQRCodeDetector()} }

func (s *gocvStage) close() { s.det.Close() }

func (s *gocvStage) run(f *frameCtx) (Result, bool) {
	for _, inverted := range []bool{false, true} {
		b := f.base
		src := b.pix
		if inverted {
			src = f.inverted(b).pix
		}
		quad, ok := s.detect(src, b.w, b.h)
		if !ok {
			if f.timeUp() {
				return Result{}, false
			}
			continue
		}
		for i := range quad {
			x, y := b.v.apply(float64(quad[i].X), float64(quad[i].Y))
			quad[i].X, quad[i].Y = float32(x), float32(y)
		}
		if r, ok := s.warpDecode(f, quad, inverted); ok {
			return r, true
		}
		if f.timeUp() {
			return Result{}, false
		}
	}
	return Result{}, false
}

// detect returns the four corners of a code in a w*h grey buffer.
func (s *gocvStage) detect(pix []byte, w, h int) ([4]gocv.Point2f, bool) {
	var quad [4]gocv.Point2f
	m, err := gocv.NewMatFromBytes(h, w, gocv.MatTypeCV8U, pix)
	if err != nil {
		return quad, false
	}
	defer m.Close()
	pts := gocv.NewMat()
	defer pts.Close()
	if !s.det.Detect(m, &pts) || pts.Total() < 4 {
		return quad, false
	}
	v := gocv.NewPoint2fVectorFromMat(pts)
	defer v.Close()
	if v.Size() < 4 {
		return quad, false
	}
	for i := 0; i < 4; i++ {
		quad[i] = v.At(i)
		if math.IsNaN(float64(quad[i].X)) || math.IsNaN(float64(quad[i].Y)) {
			return quad, false
		}
	}
	return quad, true
}

// warpDecode warps the quad of the full-resolution frame to an upright
// square with a margin of real image around it, and decodes that.
func (s *gocvStage) warpDecode(f *frameCtx, quad [4]gocv.Point2f, inverted bool) (Result, bool) {
	side := 0.0
	for i := 0; i < 4; i++ {
		a, b := quad[i], quad[(i+1)%4]
		side = max(side, math.Hypot(float64(a.X-b.X), float64(a.Y-b.Y)))
	}
	if side < minSide || side > 4096 {
		return Result{}, false
	}
	side = max(side, 160) // at least ~3 px per module for version 7
	margin := side / 5
	n := int(side + 2*margin)
	src, err := gocv.NewMatFromBytes(f.h, f.w, gocv.MatTypeCV8U, f.pix)
	if err != nil {
		return Result{}, false
	}
	defer src.Close()
	m0, m1 := float32(margin), float32(margin+side)
	from := gocv.NewPoint2fVectorFromPoints(quad[:])
	defer from.Close()
	to := gocv.NewPoint2fVectorFromPoints([]gocv.Point2f{{X: m0, Y: m0}, {X: m1, Y: m0}, {X: m1, Y: m1}, {X: m0, Y: m1}})
	defer to.Close()
	h := gocv.GetPerspectiveTransform2f(from, to)
	defer h.Close()
	dst := gocv.NewMat()
	defer dst.Close()
	gocv.WarpPerspectiveWithParams(src, &dst, h, image.Pt(n, n), gocv.InterpolationLinear, gocv.BorderReplicate, color.RGBA{})
	pix, err := dst.DataPtrUint8()
	if err != nil || len(pix) < n*n {
		return Result{}, false
	}
	f.d.bufs.zoom = grow(f.d.bufs.zoom, n*n)
	if inverted {
		invert(f.d.bufs.zoom, pix[:n*n])
	} else {
		copy(f.d.bufs.zoom, pix[:n*n])
	}
	r, ok := f.try(img{f.d.bufs.zoom, n, n, identity}, true)
	if !ok {
		return Result{}, false
	}
	minX, minY := float64(quad[0].X), float64(quad[0].Y)
	maxX, maxY := minX, minY
	for _, p := range quad[1:] {
		minX, maxX = min(minX, float64(p.X)), max(maxX, float64(p.X))
		minY, maxY = min(minY, float64(p.Y)), max(maxY, float64(p.Y))
	}
	r.Region = image.Rect(int(minX), int(minY), int(maxX+1), int(maxY+1))
	return r, true
}
