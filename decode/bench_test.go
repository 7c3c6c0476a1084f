package decode_test

import (
	"image"
	"testing"

	"github.com/kipass/kipass/decode"
	"github.com/kipass/kipass/decode/corpus"
	"github.com/kipass/kipass/screen"
)

// BenchmarkDecode measures time and allocations per frame on clean frames
// with a token, on frames with no code, and on a mixed corpus slice. The
// decoder reuses its luminance buffers; what allocations remain come from
// gozxing's binarizer and detector.
func BenchmarkDecode(b *testing.B) {
	cases := []struct {
		name   string
		frames []*image.Gray
	}{
		{"token-640x480", []*image.Gray{render(b, tokenLike, screen.Options{Seed: 1})}},
		{"token-1280x720", []*image.Gray{render(b, tokenLike, screen.Options{Width: 1280, Height: 720, Scale: 0.3, Seed: 1})}},
		{"nocode-640x480", []*image.Gray{screen.Blank(screen.Options{Seed: 1}), screen.Phone(screen.Options{Seed: 1})}},
		{"dark-640x480", []*image.Gray{render(b, tokenLike, screen.Options{Dark: true, Seed: 1})}},
	}
	mixed, err := corpus.Generate(corpus.Config{Seed: 9, PerCategory: 2, Categories: []string{"tilt", "moire", "glare", "lowlight", "mixed"}, Sizes: []image.Point{{640, 480}}})
	if err != nil {
		b.Fatal(err)
	}
	var mf []*image.Gray
	for _, f := range mixed {
		mf = append(mf, f.Img)
	}
	cases = append(cases, struct {
		name   string
		frames []*image.Gray
	}{"corpus-640x480", mf})
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			d := decode.New(decode.Options{})
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				d.Reset()
				d.Decode(c.frames[i%len(c.frames)])
			}
		})
	}
}
