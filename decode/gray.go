package decode

import (
	"image"
	"image/color"
)

// Gray converts any image.Image to *image.Gray, with fast paths for Gray,
// YCbCr (the luma plane is copied), RGBA and NRGBA. A *image.Gray is
// returned as is. A nil image gives an empty *image.Gray.
func Gray(img image.Image) *image.Gray {
	if img == nil {
		return image.NewGray(image.Rectangle{})
	}
	b := img.Bounds()
	switch m := img.(type) {
	case *image.Gray:
		return m
	case *image.YCbCr:
		out := image.NewGray(b)
		w := b.Dx()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			si := m.YOffset(b.Min.X, y)
			copy(out.Pix[(y-b.Min.Y)*out.Stride:][:w], m.Y[si:si+w])
		}
		return out
	case *image.RGBA:
		out := image.NewGray(b)
		w := b.Dx()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			src := m.Pix[m.PixOffset(b.Min.X, y):][:4*w]
			dst := out.Pix[(y-b.Min.Y)*out.Stride:][:w]
			for x := range dst {
				dst[x] = luma(src[4*x], src[4*x+1], src[4*x+2])
			}
		}
		return out
	case *image.NRGBA:
		out := image.NewGray(b)
		w := b.Dx()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			src := m.Pix[m.PixOffset(b.Min.X, y):][:4*w]
			dst := out.Pix[(y-b.Min.Y)*out.Stride:][:w]
			for x := range dst {
				// Composite over white so transparent areas read as paper.
				a := uint32(src[4*x+3])
				r := (uint32(src[4*x])*a + 255*(255-a)) / 255
				g := (uint32(src[4*x+1])*a + 255*(255-a)) / 255
				bl := (uint32(src[4*x+2])*a + 255*(255-a)) / 255
				dst[x] = luma(uint8(r), uint8(g), uint8(bl))
			}
		}
		return out
	}
	out := image.NewGray(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			out.SetGray(x, y, color.GrayModel.Convert(img.At(x, y)).(color.Gray))
		}
	}
	return out
}

// luma is the Rec. 601 luma used by image/color's GrayModel.
func luma(r, g, b uint8) uint8 {
	return uint8((19595*uint32(r) + 38470*uint32(g) + 7471*uint32(b) + 1<<15) >> 16)
}
