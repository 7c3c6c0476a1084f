package decode

import (
	"testing"

	"github.com/kipass/kipass/screen"
)

func BenchmarkGateParts(b *testing.B) {
	im := screen.Blank(screen.Options{Width: 1280, Height: 720, Seed: 1})
	src := img{im.Pix, 1280, 720, identity}
	b.Run("binarize", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			binarize(src)
		}
	})
	m := binarize(src)
	b.Run("candidates", func(b *testing.B) {
		var cs []candidate
		for i := 0; i < b.N; i++ {
			cs = findCandidates(m, cs[:0])
		}
	})
}
