package decode_test

import (
	"image"
	"testing"

	"github.com/kipass/kipass/decode"
	"github.com/kipass/kipass/decode/corpus"
)

// TestPrintedCategories reads the corpus's printed categories (codes on
// curved and wrinkled paper, art codes, tiny codes, a small code inside a
// larger picture) at 640x480 and checks each category's count of frames
// read against a floor: what the decoder read when the floor was set, on
// this seed. `go run ./decode/cmd/benchdecode -categories
// curved,art,tiny,nested` compares the rates with zxing-cpp.
func TestPrintedCategories(t *testing.T) {
	const per = 8
	floors := map[string]int{"curved": 5, "art": 7, "tiny": 6, "nested": 8}
	read := map[string]int{}
	d := decode.New(decode.Options{Budget: testBudget})
	defer d.Close()
	err := corpus.Each(corpus.Config{Seed: 1, PerCategory: per, Categories: []string{"curved", "art", "tiny", "nested"}, Sizes: []image.Point{{640, 480}}}, func(f corpus.Frame) error {
		d.Reset()
		r, err := d.Decode(f.Img)
		if err == nil && r.Text == f.Text {
			read[f.Category]++
		} else if err == nil {
			t.Errorf("%s: read %q, want %q", f.Name, r.Text, f.Text)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for cat, floor := range floors {
		t.Logf("%s: read %d of %d", cat, read[cat], per)
		if read[cat] < floor {
			t.Errorf("%s: read %d of %d, floor %d", cat, read[cat], per, floor)
		}
	}
}
