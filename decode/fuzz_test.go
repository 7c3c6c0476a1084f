package decode_test

import (
	"errors"
	"image"
	"math/rand"
	"testing"
	"time"

	"github.com/kipass/kipass/decode"
)

// FuzzDecode feeds arbitrary bytes as frames of arbitrary shape: the
// decoder must never panic, and every failure must wrap ErrNoCode.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{}, uint16(0), uint16(0))
	f.Add([]byte{0}, uint16(1), uint16(1))
	f.Add(make([]byte, 64*64), uint16(64), uint16(64))
	f.Add([]byte("KP1:not a picture"), uint16(17), uint16(1))
	noise := make([]byte, 120*90)
	rand.New(rand.NewSource(1)).Read(noise)
	f.Add(noise, uint16(120), uint16(90))
	d := decode.New(decode.Options{Budget: testBudget})
	f.Fuzz(func(t *testing.T, data []byte, w, stride uint16) {
		img := &image.Gray{Pix: data, Stride: int(stride)}
		if int(stride) > 0 {
			img.Rect = image.Rect(0, 0, int(w), len(data)/int(stride))
		} else {
			img.Rect = image.Rect(0, 0, int(w), int(w))
		}
		_, err := d.Decode(img)
		if err != nil && !errors.Is(err, decode.ErrNoCode) {
			t.Fatalf("error %v does not wrap ErrNoCode", err)
		}
	})
}

func TestBadFrames(t *testing.T) {
	solid := func(w, h int, v byte) *image.Gray {
		img := image.NewGray(image.Rect(0, 0, w, h))
		for i := range img.Pix {
			img.Pix[i] = v
		}
		return img
	}
	noise := image.NewGray(image.Rect(0, 0, 640, 480))
	rand.New(rand.NewSource(2)).Read(noise.Pix)
	frames := map[string]*image.Gray{
		"nil":             nil,
		"empty":           image.NewGray(image.Rectangle{}),
		"1x1":             image.NewGray(image.Rect(0, 0, 1, 1)),
		"1x10000":         image.NewGray(image.Rect(0, 0, 1, 10000)),
		"black 640x480":   solid(640, 480, 0),
		"white 640x480":   solid(640, 480, 255),
		"grey 8K":         solid(7680, 4320, 128),
		"noise 640x480":   noise,
		"short Pix":       {Pix: make([]byte, 10), Stride: 640, Rect: image.Rect(0, 0, 640, 480)},
		"negative origin": {Pix: make([]byte, 100*100), Stride: 100, Rect: image.Rect(-50, -50, 50, 50)},
		"stride < width":  {Pix: make([]byte, 100*100), Stride: 10, Rect: image.Rect(0, 0, 100, 100)},
	}
	d := decode.New(decode.Options{Budget: testBudget})
	for name, img := range frames {
		start := time.Now()
		_, err := d.Decode(img)
		if !errors.Is(err, decode.ErrNoCode) {
			t.Errorf("%s: got %v, want ErrNoCode", name, err)
		}
		t.Logf("%-16s %v", name, time.Since(start).Round(time.Microsecond))
	}
}

// TestSubImage checks frames that are views into a larger image (non-zero
// origin, stride wider than the width) read, and that the region is in the
// sub-image's coordinates.
func TestSubImage(t *testing.T) {
	big := render(t, tokenLike, decodeOpts(1280, 720))
	sub := big.SubImage(image.Rect(320, 120, 960, 600)).(*image.Gray)
	r, err := decode.New(decode.Options{Budget: testBudget}).Decode(sub)
	if err != nil || r.Text != tokenLike {
		t.Fatalf("sub-image: %q, %v", r.Text, err)
	}
	if !r.Region.In(sub.Bounds()) {
		t.Errorf("region %v outside sub-image %v", r.Region, sub.Bounds())
	}
}
