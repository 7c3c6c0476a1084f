package decode_test

import (
	"image"
	"testing"
	"time"

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

// BenchmarkHopelessStream measures stream mode (the daemon's settings at
// 30 fps) on 640x480 code frames that the stills decoder cannot read with
// its whole cascade: each frame is fed three times in a row, as a camera
// repeats a scene. The figure to read is ms/frame (wall time per Decode
// call); benchdecode reports the same frames' thread CPU.
func BenchmarkHopelessStream(b *testing.B) {
	frames, err := corpus.Generate(corpus.Config{Seed: 1, PerCategory: 4, Sizes: []image.Point{{640, 480}}})
	if err != nil {
		b.Fatal(err)
	}
	still := decode.New(decode.Options{NoOpenCV: true})
	var hopeless []*image.Gray
	for _, f := range frames {
		still.Reset()
		if r, err := still.Decode(f.Img); f.Text != "" && (err != nil || r.Text != f.Text) {
			hopeless = append(hopeless, f.Img)
		}
	}
	if len(hopeless) == 0 {
		b.Skip("every frame read")
	}
	d := decode.New(decode.Options{NoOpenCV: true, Stream: true, Budget: time.Second / 30})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%3 == 0 {
			d.Reset()
		}
		d.Decode(hopeless[(i/3)%len(hopeless)])
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/frame")
	b.ReportMetric(float64(len(hopeless)), "frames")
}
