package decode_test

import (
	"image"
	"testing"

	"github.com/kipass/kipass/decode"
	"github.com/kipass/kipass/decode/corpus"
)

// Two defocused corpus frames (Gaussian blur sigma about 1.6-1.7 px on
// modules of about 2.5 px) that no other stage reads are read by the
// deconvolution stage, with the right text.
func TestDeblurReadsDefocusedFrames(t *testing.T) {
	frames, err := corpus.Generate(corpus.Config{Seed: 1, PerCategory: 12, Categories: []string{"defocus"}, Sizes: []image.Point{{640, 480}}})
	if err != nil {
		t.Fatal(err)
	}
	d := decode.New(decode.Options{Budget: testBudget, NoOpenCV: true})
	defer d.Close()
	for _, f := range frames[10:12] {
		d.Reset()
		r, err := d.Decode(f.Img)
		if err != nil || r.Text != f.Text {
			t.Errorf("%s (blur %.2f): got %q, %v", f.Name, f.Options.Blur, r.Text, err)
		}
	}
	if n := d.Stats().ByStage["deblur"]; n != 2 {
		t.Errorf("deblur stage read %d frames, want 2 (stages %v)", n, d.Stats().ByStage)
	}
}
