package decode

import (
	"image"
	"math/rand"
	"testing"

	"github.com/kipass/kipass/decode/corpus"
	"github.com/makiuchi-d/gozxing"
)

// The fast binarizer gives gozxing's HybridBinarizer's matrix bit for bit:
// on corpus frames of both sizes, on crops whose sides are not multiples
// of the block size (the overlapping last blocks), on noise, and on frames
// too small for blocks (the global histogram fallback).
func TestHybridMatchesGozxing(t *testing.T) {
	frames, err := corpus.Generate(corpus.Config{Seed: 3, PerCategory: 1})
	if err != nil {
		t.Fatal(err)
	}
	var ims []img
	for _, f := range frames {
		b := f.Img.Bounds()
		pix := append([]byte(nil), f.Img.Pix[:b.Dx()*b.Dy()]...)
		ims = append(ims, img{pix: pix, w: b.Dx(), h: b.Dy()})
	}
	r := rand.New(rand.NewSource(1))
	for _, sz := range []image.Point{{41, 40}, {45, 47}, {77, 301}, {333, 250}, {30, 30}, {39, 200}} {
		pix := make([]byte, sz.X*sz.Y)
		for i := range pix {
			pix[i] = byte(r.Intn(256))
		}
		ims = append(ims, img{pix: pix, w: sz.X, h: sz.Y})
		// a crop of a real frame with awkward sides
		f := ims[r.Intn(len(frames))]
		c := make([]byte, sz.X*sz.Y)
		for y := 0; y < sz.Y; y++ {
			copy(c[y*sz.X:(y+1)*sz.X], f.pix[y*f.w:y*f.w+sz.X])
		}
		ims = append(ims, img{pix: c, w: sz.X, h: sz.Y})
	}
	var buf []int32
	for i, im := range ims {
		src := &lumSource{pix: im.pix, w: im.w, h: im.h}
		want, werr := gozxing.NewHybridBinarizer(src).GetBlackMatrix()
		got, err := newHybrid(src, &buf).GetBlackMatrix()
		if (err == nil) != (werr == nil) {
			t.Fatalf("image %d (%dx%d): error %v, gozxing's %v", i, im.w, im.h, err, werr)
		}
		if err != nil {
			continue // the global fallback found no black point, like gozxing's
		}
		diff := 0
		for y := 0; y < im.h; y++ {
			for x := 0; x < im.w; x++ {
				if got.Get(x, y) != want.Get(x, y) {
					diff++
				}
			}
		}
		if diff != 0 {
			t.Errorf("image %d (%dx%d): %d pixels differ from gozxing's", i, im.w, im.h, diff)
		}
	}
	if len(ims) < 30 {
		t.Fatalf("only %d images compared", len(ims))
	}
}

func BenchmarkHybrid(b *testing.B) {
	frames, err := corpus.Generate(corpus.Config{Seed: 3, PerCategory: 1, Categories: []string{"clean"}, Sizes: []image.Point{{640, 480}}})
	if err != nil {
		b.Fatal(err)
	}
	src := &lumSource{pix: frames[0].Img.Pix, w: 640, h: 480}
	b.Run("gozxing", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			gozxing.NewHybridBinarizer(src).GetBlackMatrix()
		}
	})
	var buf []int32
	b.Run("ours", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			newHybrid(src, &buf).GetBlackMatrix()
		}
	})
}
