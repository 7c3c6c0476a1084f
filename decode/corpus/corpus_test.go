package corpus_test

import (
	"bytes"
	"image"
	"testing"

	"github.com/kipass/kipass/decode/corpus"
)

func TestReproducibleAndComplete(t *testing.T) {
	cfg := corpus.Config{Seed: 3, PerCategory: 2, Sizes: []image.Point{{320, 240}}}
	a, err := corpus.Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := corpus.Generate(cfg)
	if len(a) != len(corpus.Categories)*2 || len(a) != len(b) {
		t.Fatalf("%d frames, want %d", len(a), len(corpus.Categories)*2)
	}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].Text != b[i].Text || !bytes.Equal(a[i].Img.Pix, b[i].Img.Pix) {
			t.Fatalf("frame %s differs between runs with the same seed", a[i].Name)
		}
		if (a[i].Category == "nocode") != (a[i].Text == "") {
			t.Errorf("%s: text %q", a[i].Name, a[i].Text)
		}
	}
	c, _ := corpus.Generate(corpus.Config{Seed: 4, PerCategory: 2, Sizes: cfg.Sizes})
	if bytes.Equal(a[0].Img.Pix, c[0].Img.Pix) {
		t.Error("different seeds gave the same first frame")
	}
}

func TestVersionsAndTokens(t *testing.T) {
	versions := map[int]bool{}
	tokens := 0
	err := corpus.Each(corpus.Config{Seed: 1, PerCategory: 20, Categories: []string{"clean"}, Sizes: []image.Point{{320, 240}},
		Tokens: []string{"KP1:TESTTOKEN"}}, func(f corpus.Frame) error {
		if f.Text == "KP1:TESTTOKEN" {
			tokens++
		} else {
			versions[f.Version] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if tokens != 10 {
		t.Errorf("%d token frames, want 10", tokens)
	}
	for v := 1; v <= 10; v++ {
		if !versions[v] {
			t.Errorf("no text of version %d", v)
		}
	}
	if err := corpus.Each(corpus.Config{PerCategory: 1, Categories: []string{"fog"}}, func(corpus.Frame) error { return nil }); err == nil {
		t.Error("unknown category accepted")
	}
}

func TestPrintedKinds(t *testing.T) {
	sz := image.Point{640, 480}
	err := corpus.Each(corpus.Config{Seed: 2, PerCategory: 6, Categories: []string{"curved", "art", "tiny", "nested"}, Sizes: []image.Point{sz}}, func(f corpus.Frame) error {
		if !corpus.Printed(f.Category) || f.Text == "" || f.Version < 1 {
			t.Errorf("%s: printed %v, text %q, version %d", f.Name, corpus.Printed(f.Category), f.Text, f.Version)
		}
		if f.Category == "art" && f.Options.Level != "H" {
			t.Errorf("%s: level %q, want H", f.Name, f.Options.Level)
		}
		if f.Category == "tiny" {
			// the code's side with its quiet zone is Scale of the frame height
			px := f.Options.Scale * float64(sz.Y) / float64(17+4*f.Version+8)
			if px < 1 || px > 2.5 {
				t.Errorf("%s: %.2f px per module, want 1 to 2.5", f.Name, px)
			}
		}
		// the sheet shows: the frame is not the bare background
		lo, hi := 255, 0
		for _, p := range f.Img.Pix {
			lo, hi = min(lo, int(p)), max(hi, int(p))
		}
		if hi-lo < 100 {
			t.Errorf("%s: contrast %d", f.Name, hi-lo)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"clean", "nocode", "mixed"} {
		if corpus.Printed(c) {
			t.Errorf("%s counted as printed", c)
		}
	}
}
