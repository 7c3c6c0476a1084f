package camera

import (
	"image"
	"image/draw"
)

// toGray returns img as an *image.Gray, converting only when needed. For the
// common decoder outputs it takes fast paths: a Gray is returned as is, a
// YCbCr (JPEG) gives its Y plane, which is the luminance already.
func toGray(img image.Image) *image.Gray {
	b := img.Bounds()
	switch m := img.(type) {
	case *image.Gray:
		return m
	case *image.YCbCr:
		g := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
		for y := 0; y < b.Dy(); y++ {
			off := m.YOffset(b.Min.X, b.Min.Y+y)
			copy(g.Pix[y*g.Stride:y*g.Stride+b.Dx()], m.Y[off:off+b.Dx()])
		}
		return g
	case *image.RGBA:
		return rgbaToGray(m.Pix, m.Stride, b.Dx(), b.Dy())
	case *image.NRGBA:
		return rgbaToGray(m.Pix, m.Stride, b.Dx(), b.Dy())
	}
	g := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(g, g.Bounds(), img, b.Min, draw.Src)
	return g
}

// rgbaToGray converts 4-byte pixels with the same integer weights as
// color.GrayModel (ITU-R BT.601), ignoring alpha.
func rgbaToGray(pix []byte, stride, w, h int) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		src := pix[y*stride : y*stride+4*w]
		dst := g.Pix[y*g.Stride : y*g.Stride+w]
		for x := range dst {
			r, gg, b := uint32(src[4*x]), uint32(src[4*x+1]), uint32(src[4*x+2])
			dst[x] = uint8((19595*r + 38470*gg + 7471*b + 1<<15) >> 16)
		}
	}
	return g
}
