package corpus_test

import (
	"bytes"
	"image"
	"testing"

	"github.com/kipass/kipass/decode/corpus"
)

// Sequences are reproducible, 5 to 15 frames long, and the frames of one
// sequence differ (tremor moves the phone, autofocus changes the blur).
func TestSequencesReproducibleAndMoving(t *testing.T) {
	cfg := corpus.Config{Seed: 5, PerCategory: 2, Sizes: []image.Point{{320, 240}}}
	var a, b []corpus.Sequence
	if err := corpus.EachSequence(cfg, func(s corpus.Sequence) error { a = append(a, s); return nil }); err != nil {
		t.Fatal(err)
	}
	corpus.EachSequence(cfg, func(s corpus.Sequence) error { b = append(b, s); return nil })
	if len(a) != 2*len(corpus.SequenceCategories) {
		t.Fatalf("%d sequences, want %d", len(a), 2*len(corpus.SequenceCategories))
	}
	for i, s := range a {
		if n := len(s.Frames); n < 5 || n > 15 || n != len(s.Options) {
			t.Errorf("%s: %d frames, %d options", s.Name, n, len(s.Options))
		}
		if s.Text == "" || s.Text != b[i].Text || !bytes.Equal(s.Frames[0].Pix, b[i].Frames[0].Pix) {
			t.Errorf("%s differs between runs with the same seed", s.Name)
		}
		if bytes.Equal(s.Frames[0].Pix, s.Frames[1].Pix) {
			t.Errorf("%s: frames 0 and 1 are identical", s.Name)
		}
		moved := false
		for _, o := range s.Options[1:] {
			if o.DX != s.Options[0].DX || o.DY != s.Options[0].DY || o.Blur != s.Options[0].Blur {
				moved = true
			}
		}
		if !moved {
			t.Errorf("%s: no tremor or focus change across frames", s.Name)
		}
	}
	if err := corpus.EachSequence(corpus.Config{Categories: []string{"defocus"}}, func(corpus.Sequence) error { return nil }); err == nil {
		t.Error("a single-frame category was accepted as a sequence category")
	}
}
