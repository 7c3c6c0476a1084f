package decode

import (
	"math/rand"
	"testing"

	"github.com/kipass/kipass/decode/corpus"
)

// deglare's block-wise form gives what its definition says, pixel for
// pixel: each pixel stretched between the least value of the 3x3 blocks
// of 4x4 around it and white, white where that floor is near white.
func TestDeglareMatchesDefinition(t *testing.T) {
	frames, err := corpus.Generate(corpus.Config{Seed: 5, PerCategory: 1, Categories: []string{"glare", "clean"}})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewSource(2))
	var fl []deglareBlock
	for _, f := range frames {
		b := f.Img.Bounds()
		// odd sides: partial blocks at the right and bottom edges
		w, h := b.Dx()-r.Intn(4), b.Dy()-r.Intn(4)
		src := make([]byte, w*h)
		for y := 0; y < h; y++ {
			copy(src[y*w:(y+1)*w], f.Img.Pix[y*f.Img.Stride:y*f.Img.Stride+w])
		}
		dst := make([]byte, w*h)
		deglare(dst, src, make([]byte, ((w+3)/4)*((h+3)/4)), &fl, w, h)
		bad := 0
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				floor := 255
				for yy := max(y/4*4-4, 0); yy < min(y/4*4+8, h); yy++ {
					for xx := max(x/4*4-4, 0); xx < min(x/4*4+8, w); xx++ {
						floor = min(floor, int(src[yy*w+xx]))
					}
				}
				want := 255
				if 255-floor >= 48 {
					want = (int(src[y*w+x]) - floor) * 255 / (255 - floor)
				}
				if int(dst[y*w+x]) != want {
					bad++
				}
			}
		}
		if bad != 0 {
			t.Errorf("%s (%dx%d): %d pixels differ from the definition", f.Name, w, h, bad)
		}
	}
}
