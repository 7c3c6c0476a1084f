package decode_test

import (
	"image"
	"testing"
	"time"

	"github.com/kipass/kipass/decode"
	"github.com/kipass/kipass/decode/corpus"
)

// In stream mode a frame that only a late stage reads is read after a few
// frames of the same scene: each frame runs one more slice of the
// cascade. Without stream mode the same frame reads at the first call.
func TestStreamSpreadsStagesOverFrames(t *testing.T) {
	frames, err := corpus.Generate(corpus.Config{Seed: 1, PerCategory: 12, Categories: []string{"defocus"}, Sizes: []image.Point{{640, 480}}})
	if err != nil {
		t.Fatal(err)
	}
	f := frames[10] // read by the deblur stage only
	d := decode.New(decode.Options{Budget: testBudget, NoOpenCV: true, Stream: true, Slice: time.Nanosecond})
	defer d.Close()
	calls := 0
	for ; calls < 20; calls++ {
		r, err := d.Decode(f.Img)
		if err == nil {
			if r.Text != f.Text {
				t.Fatalf("read %q, want %q", r.Text, f.Text)
			}
			break
		}
	}
	calls++
	if calls > 15 {
		t.Fatalf("not read in %d frames of the same scene", calls-1)
	}
	if calls < 3 {
		t.Errorf("read at frame %d: with a 1 ns slice the late stage should come after a few frames", calls)
	}
	if got := d.Stats().ByStage["deblur"]; got != 1 {
		t.Errorf("stages %v, want the read from deblur", d.Stats().ByStage)
	}
	// A code that the base pass reads is still read on the first frame.
	clean, _ := corpus.Generate(corpus.Config{Seed: 1, PerCategory: 1, Categories: []string{"clean"}, Sizes: []image.Point{{640, 480}}})
	if r, err := d.Decode(clean[0].Img); err != nil || r.Text != clean[0].Text {
		t.Errorf("clean frame in stream mode: %q, %v", r.Text, err)
	}
}
