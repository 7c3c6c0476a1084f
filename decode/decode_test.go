package decode_test

import (
	"errors"
	"image"
	"image/png"
	"os"
	"testing"
	"time"

	"github.com/kipass/kipass/decode"
	"github.com/kipass/kipass/decode/corpus"
	"github.com/kipass/kipass/screen"
)

// token-like text: QR alphanumeric, about 150 characters.
const tokenLike = "KP1:AB3DEFGH2JKLMN4PQRST5VWXYZ6ABCDEFG7HIJKLMNOPQRSTUVWXYZ234567ABCDEFGHIJKLMNOPQRSTUVWXYZ:ABCDEFGHIJKLMNOPQRSTUVWXYZ234567ABCDEFGHIJKLMNOPQRSTUV234567"

func TestRoundTripRendered(t *testing.T) {
	texts := []string{
		"HELLO",
		"https://example.com/visit?id=42",
		tokenLike,
		"mixed Case text, with punctuation! 한국어도 됩니다",
	}
	d := decode.New(decode.Options{Budget: testBudget})
	for _, text := range texts {
		for _, o := range []screen.Options{
			{},
			{Width: 1280, Height: 720, Scale: 0.4, DX: 120, DY: -40},
			{Dark: true},
			{Roll: 30, TiltX: 15, Blur: 0.8, Noise: 3, Seed: 7},
		} {
			img, err := screen.Render(text, o)
			if err != nil {
				t.Fatalf("render %q: %v", text, err)
			}
			r, err := d.Decode(img)
			if err != nil {
				t.Errorf("decode %q with %+v: %v", text, o, err)
				continue
			}
			if r.Text != text {
				t.Errorf("decode: got %q, want %q", r.Text, text)
			}
			if !r.Region.In(img.Bounds()) || r.Region.Empty() {
				t.Errorf("region %v not inside frame %v", r.Region, img.Bounds())
			}
		}
	}
}

func TestPlainQR(t *testing.T) {
	d := decode.New(decode.Options{Budget: testBudget})
	img, err := screen.QR(tokenLike, 300)
	if err != nil {
		t.Fatal(err)
	}
	r, err := d.Decode(img)
	if err != nil || r.Text != tokenLike {
		t.Fatalf("decode plain QR: %q, %v", r.Text, err)
	}
}

func TestNoCode(t *testing.T) {
	d := decode.New(decode.Options{Budget: testBudget})
	frames := map[string]*image.Gray{
		"nil":   nil,
		"empty": image.NewGray(image.Rectangle{}),
		"1x1":   image.NewGray(image.Rect(0, 0, 1, 1)),
		"blank": screen.Blank(screen.Options{Seed: 3}),
	}
	for name, img := range frames {
		_, err := d.Decode(img)
		if !errors.Is(err, decode.ErrNoCode) {
			t.Errorf("%s: got %v, want ErrNoCode", name, err)
		}
	}
}

// TestGozxingTestdata decodes the photos shipped with gozxing's QR tests
// and logs how many were read and the time per image. It asserts only that
// the decoder reads most of them, because the set includes hard photos;
// `go run ./decode/cmd/benchdecode` compares the figures with zxing-cpp.
func TestGozxingTestdata(t *testing.T) {
	photos, err := corpus.GozxingPhotos()
	if err != nil {
		t.Skip(err)
	}
	d := decode.New(decode.Options{Budget: testBudget})
	ok := 0
	var total time.Duration
	for _, p := range photos {
		img := decode.Gray(loadPNG(t, p.Path))
		d.Reset()
		start := time.Now()
		r, err := d.Decode(img)
		total += time.Since(start)
		if err == nil && r.Text == p.Text {
			ok++
		}
	}
	t.Logf("gozxing testdata: decoded %d/%d, %.1f ms per image", ok, len(photos), float64(total.Microseconds())/1000/float64(len(photos)))
	if ok < len(photos)*3/4 {
		t.Errorf("decoded %d of %d testdata photos", ok, len(photos))
	}
}

func loadPNG(t testing.TB, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}
