package camera

import (
	"image"
	"testing"
)

// pattern makes a w×h frame whose left half has intensity a and right half
// b, so a frame can be told apart after lossy (MJPG) compression by means.
func pattern(w, h int, a, b uint8) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := a
			if x >= w/2 {
				v = b
			}
			g.Pix[y*g.Stride+x] = v
		}
	}
	return g
}

// halfMeans returns the mean intensity of the left and right halves.
func halfMeans(g *image.Gray) (left, right float64) {
	b := g.Bounds()
	var sl, sr, nl, nr float64
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			v := float64(g.GrayAt(x, y).Y)
			if x-b.Min.X < b.Dx()/2 {
				sl += v
				nl++
			} else {
				sr += v
				nr++
			}
		}
	}
	return sl / nl, sr / nr
}

func checkClose(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if d := got - want; d > tol || d < -tol {
		t.Errorf("%s = %.1f, want %.1f ± %.1f", what, got, want, tol)
	}
}
