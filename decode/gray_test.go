package decode_test

import (
	"image"
	"image/color"
	"math/rand"
	"testing"

	"github.com/kipass/kipass/decode"
)

// TestGray compares the fast paths with image/color's GrayModel, pixel by
// pixel, on images with an offset origin.
func TestGray(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	b := image.Rect(3, 5, 40, 33)
	rgba := image.NewRGBA(b)
	ycc := image.NewYCbCr(b, image.YCbCrSubsampleRatio420)
	r.Read(rgba.Pix)
	r.Read(ycc.Y)
	r.Read(ycc.Cb)
	r.Read(ycc.Cr)
	for i := 3; i < len(rgba.Pix); i += 4 {
		rgba.Pix[i] = 255 // opaque: RGBA is premultiplied
	}
	pal := image.NewPaletted(b, color.Palette{color.Black, color.White, color.RGBA{200, 30, 40, 255}})
	r.Read(pal.Pix)
	for i := range pal.Pix {
		pal.Pix[i] %= 3
	}
	for name, img := range map[string]image.Image{"RGBA": rgba, "YCbCr": ycc, "Paletted": pal} {
		g := decode.Gray(img)
		if g.Bounds() != b {
			t.Fatalf("%s: bounds %v", name, g.Bounds())
		}
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				want := color.GrayModel.Convert(img.At(x, y)).(color.Gray).Y
				got := g.GrayAt(x, y).Y
				if name == "YCbCr" {
					want = ycc.Y[ycc.YOffset(x, y)] // luma plane as is
				}
				if d := int(got) - int(want); d < -1 || d > 1 {
					t.Fatalf("%s at %d,%d: %d, want %d", name, x, y, got, want)
				}
			}
		}
	}
	// NRGBA: transparent pixels read as white paper.
	clear := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	clear.Pix = []byte{0, 0, 0, 0, 0, 0, 0, 255}
	g := decode.Gray(clear)
	if g.Pix[0] != 255 || g.Pix[1] != 0 {
		t.Errorf("NRGBA transparent/opaque black: %v, want [255 0]", g.Pix)
	}
	gray := image.NewGray(b)
	if decode.Gray(gray) != gray {
		t.Error("*image.Gray was copied")
	}
	if decode.Gray(nil).Bounds() != (image.Rectangle{}) {
		t.Error("nil image")
	}
}
