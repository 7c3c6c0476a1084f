package screen_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kipass/kipass/decode"
	"github.com/kipass/kipass/screen"
)

func TestEncodeVersion(t *testing.T) {
	c, err := screen.Encode("HELLO", "M", 0)
	if err != nil {
		t.Fatal(err)
	}
	if c.Version != 1 || c.Size != 21 {
		t.Errorf("HELLO: version %d size %d, want 1 and 21", c.Version, c.Size)
	}
	c, err = screen.Encode("HELLO", "M", 10)
	if err != nil {
		t.Fatal(err)
	}
	if c.Version != 10 || c.Size != 57 {
		t.Errorf("forced version 10: got version %d size %d", c.Version, c.Size)
	}
	// A 150-char alphanumeric token fits version 7 at level M.
	c, err = screen.Encode("KP1:"+strings.Repeat("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 5)[:146], "M", 0)
	if err != nil {
		t.Fatal(err)
	}
	if c.Version > 7 {
		t.Errorf("150-char token: version %d, want <= 7", c.Version)
	}
}

func TestBadInput(t *testing.T) {
	if _, err := screen.QR("", 100); !errors.Is(err, screen.ErrEmptyText) {
		t.Errorf("empty text: %v", err)
	}
	if _, err := screen.QR("HELLO", 10); !errors.Is(err, screen.ErrBadOption) {
		t.Errorf("too small: %v", err)
	}
	if _, err := screen.Render("HELLO", screen.Options{Width: -1}); !errors.Is(err, screen.ErrBadOption) {
		t.Errorf("negative width: %v", err)
	}
	if _, err := screen.Render("HELLO", screen.Options{TiltX: 90}); !errors.Is(err, screen.ErrBadOption) {
		t.Errorf("tilt 90: %v", err)
	}
	if _, err := screen.Render("HELLO", screen.Options{Level: "X"}); !errors.Is(err, screen.ErrBadOption) {
		t.Errorf("level X: %v", err)
	}
}

func TestSeedReproducible(t *testing.T) {
	o := screen.Options{Noise: 5, Blur: 1, Roll: 20, Seed: 42}
	a, err := screen.Render("HELLO", o)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := screen.Render("HELLO", o)
	if !bytes.Equal(a.Pix, b.Pix) {
		t.Error("same seed gave different frames")
	}
	o.Seed = 43
	c, _ := screen.Render("HELLO", o)
	if bytes.Equal(a.Pix, c.Pix) {
		t.Error("different seeds gave the same frame")
	}
}

func TestRenderReadsBack(t *testing.T) {
	d := decode.New(decode.Options{Budget: time.Minute})
	for _, o := range []screen.Options{{}, {Dark: true}, {Width: 1280, Height: 720}} {
		img, err := screen.Render("KP1:TEST", o)
		if err != nil {
			t.Fatal(err)
		}
		if img.Bounds().Dx() != max(o.Width, 640) {
			t.Errorf("width %d", img.Bounds().Dx())
		}
		r, err := d.Decode(img)
		if err != nil || r.Text != "KP1:TEST" {
			t.Errorf("%+v: read back %q, %v", o, r.Text, err)
		}
	}
	if _, err := d.Decode(screen.Blank(screen.Options{})); !errors.Is(err, decode.ErrNoCode) {
		t.Errorf("blank frame: %v", err)
	}
}

// BenchmarkRender measures the renderer the demo uses to make its video.
func BenchmarkRender(b *testing.B) {
	for _, o := range []screen.Options{{}, {Width: 1280, Height: 720, Roll: 10, TiltX: 20, Moire: 0.3, Blur: 1, Noise: 3}} {
		b.Run(fmt.Sprintf("%dx%d", max(o.Width, 640), max(o.Height, 480)), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := screen.Render("KP1:"+strings.Repeat("ABCDEFGH", 18), o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
