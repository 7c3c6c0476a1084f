package decode_test

import (
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/kipass/kipass/decode"
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
	d := decode.New(decode.Options{})
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
	d := decode.New(decode.Options{})
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
	d := decode.New(decode.Options{})
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
// the decoder reads some of them, because the set includes hard photos.
func TestGozxingTestdata(t *testing.T) {
	dirs := gozxingTestdata(t)
	d := decode.New(decode.Options{})
	var n, ok int
	var total time.Duration
	for _, dir := range dirs {
		files, _ := filepath.Glob(filepath.Join(dir, "*.png"))
		sort.Strings(files)
		for _, f := range files {
			want, known := gozxingAnswer(filepath.Base(dir), filepath.Base(f))
			if !known {
				continue
			}
			img := loadPNG(t, f)
			start := time.Now()
			r, err := d.Decode(decode.Gray(img))
			total += time.Since(start)
			n++
			if err == nil && r.Text == want {
				ok++
			}
		}
	}
	if n == 0 {
		t.Skip("gozxing testdata not found in the module cache")
	}
	t.Logf("gozxing testdata: decoded %d/%d, %.1f ms per image", ok, n, float64(total.Microseconds())/1000/float64(n))
	if ok == 0 {
		t.Errorf("decoded none of %d testdata images", n)
	}
}

func gozxingTestdata(t testing.TB) []string {
	t.Helper()
	out, err := goEnv("GOMODCACHE")
	if err != nil {
		t.Skipf("go env: %v", err)
	}
	base := filepath.Join(out, "github.com", "makiuchi-d", "gozxing@v0.1.1", "qrcode", "testdata")
	var dirs []string
	for _, s := range []string{"qrcode-1", "qrcode-6"} {
		if _, err := os.Stat(filepath.Join(base, s)); err == nil {
			dirs = append(dirs, filepath.Join(base, s))
		}
	}
	return dirs
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

// gozxingAnswer returns the known content of a gozxing testdata image, as
// listed in gozxing's own qrcode_reader_test.go (from ZXing's blackbox set).
func gozxingAnswer(dir, file string) (string, bool) {
	var n int
	if _, err := fmt.Sscanf(file, "%d.png", &n); err != nil {
		return "", false
	}
	switch {
	case dir == "qrcode-1" && n >= 1 && n <= 12:
		return "MEBKM:URL:http\\://en.wikipedia.org/wiki/Main_Page;;", true
	case dir == "qrcode-1" && n >= 13 && n <= 15:
		return "http://google.com/gwt/n?u=bluenile.com", true
	case dir == "qrcode-1" && n >= 16 && n <= 20:
		return "Sean Owen\r\nsrowen@google.com\r\n917-364-2918\r\nhttp://awesome-thoughts.com", true
	case dir == "qrcode-6" && n >= 1 && n <= 14:
		return "1234567890", true
	case dir == "qrcode-6" && n == 15:
		return "TEST", true
	}
	return "", false
}
