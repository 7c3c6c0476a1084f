package zxingcpp_test

import (
	"errors"
	"image"
	"testing"

	"github.com/kipass/kipass/decode/zxingcpp"
	"github.com/kipass/kipass/screen"
)

func start(t *testing.T) *zxingcpp.Reader {
	t.Helper()
	r, err := zxingcpp.Start()
	if errors.Is(err, zxingcpp.ErrUnavailable) {
		t.Skipf("reference decoder missing (make deps-bench): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// The worker reads a rendered phone frame, finds nothing in a blank one,
// and handles a sub-image (stride and offset) and a frame after a frame of
// another size.
func TestReadRenderedFrames(t *testing.T) {
	r := start(t)
	const text = "KP1:ABCDEFGH:234567"
	img, err := screen.Render(text, screen.Options{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Read(img)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Has(text) || len(res.Texts) != 1 {
		t.Fatalf("read %q, want [%q]", res.Texts, text)
	}
	if res.Elapsed <= 0 {
		t.Errorf("elapsed %v, want the read call's time", res.Elapsed)
	}
	res, err = r.Read(screen.Blank(screen.Options{Width: 320, Height: 200, Seed: 3}))
	if err != nil || len(res.Texts) != 0 {
		t.Fatalf("blank frame: %q, %v", res.Texts, err)
	}
	big, err := screen.Render(text, screen.Options{Width: 800, Height: 600, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	sub := big.SubImage(image.Rect(80, 60, 720, 540)).(*image.Gray)
	res, err = r.Read(sub)
	if err != nil || !res.Has(text) {
		t.Fatalf("sub-image: %q, %v", res.Texts, err)
	}
}
