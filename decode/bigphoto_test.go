package decode_test

import (
	"math/rand"
	"testing"
	"time"

	"github.com/kipass/kipass/decode"
	"github.com/kipass/kipass/decode/corpus"
	"github.com/kipass/kipass/screen"
)

// TestLargePhoto reads a small code of a high version in a 4000x3000
// photo, where the halved base frame has too few pixels per module.
func TestLargePhoto(t *testing.T) {
	if testing.Short() {
		t.Skip("renders a 12 MP frame")
	}
	text := corpus.Text(rand.New(rand.NewSource(1)), 10)
	img := render(t, text, screen.Options{Width: 4000, Height: 3000, Scale: 0.1, DX: 900, DY: -500, Seed: 4})
	d := decode.New(decode.Options{Budget: testBudget})
	start := time.Now()
	r, err := d.Decode(img)
	el := time.Since(start)
	if err != nil || r.Text != text {
		t.Fatalf("4000x3000 photo: %q, %v (stages %v)", r.Text, err, d.Stats().ByStage)
	}
	t.Logf("read in %v, stages: %v", el.Round(time.Millisecond), d.Stats().ByStage)
}
