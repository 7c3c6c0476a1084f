package decode_test

import (
	"errors"
	"image"
	"testing"
	"time"

	"github.com/kipass/kipass/clock"
	"github.com/kipass/kipass/decode"
	"github.com/kipass/kipass/screen"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

// fakeFocuser counts refocus requests; it is the camera's side of the
// Focuser interface.
type fakeFocuser struct {
	calls int
	err   error
}

func (f *fakeFocuser) Refocus() error { f.calls++; return f.err }

func render(t testing.TB, text string, o screen.Options) *image.Gray {
	t.Helper()
	img, err := screen.Render(text, o)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// blurredToken renders the token with a defocus blur that a fresh decoder
// cannot read, trying stronger blurs until one fails.
func blurredToken(t *testing.T) *image.Gray {
	t.Helper()
	// the least blur that the decoder cannot read but still sees as a code
	// (it asks for refocus after one such frame)
	for sigma := 2.0; sigma <= 6; sigma += 0.25 {
		img := render(t, tokenLike, screen.Options{Scale: 0.5, Blur: sigma, Seed: 5})
		foc := &fakeFocuser{}
		if _, err := decode.New(decode.Options{Budget: testBudget, Focuser: foc, RefocusAfter: 1}).Decode(img); err != nil && foc.calls == 1 {
			t.Logf("defocus sigma %.2f px defeats the decoder", sigma)
			return img
		}
	}
	t.Fatal("no blur made the frame unreadable but code-like")
	return nil
}

func TestBlurTriggersRefocus(t *testing.T) {
	blurred := blurredToken(t)
	sharp := render(t, tokenLike, screen.Options{Scale: 0.5, Seed: 5})
	clk := clock.NewFake(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC))
	foc := &fakeFocuser{}
	d := decode.New(decode.Options{Budget: testBudget, Focuser: foc, Clock: clk, RefocusAfter: 3, RefocusEvery: 2 * time.Second})
	for i := 0; i < 3; i++ {
		if _, err := d.Decode(blurred); !errors.Is(err, decode.ErrNoCode) {
			t.Fatalf("blurred frame %d: %v", i, err)
		}
		clk.Advance(100 * time.Millisecond)
	}
	if foc.calls != 1 {
		t.Fatalf("after 3 failed code-like frames: %d refocus requests, want 1", foc.calls)
	}
	// Rate limit: more failures within RefocusEvery ask nothing more.
	for i := 0; i < 6; i++ {
		d.Decode(blurred)
		clk.Advance(100 * time.Millisecond)
	}
	if foc.calls != 1 {
		t.Fatalf("within the rate limit: %d refocus requests, want 1", foc.calls)
	}
	clk.Advance(2 * time.Second)
	for i := 0; i < 3; i++ {
		d.Decode(blurred)
	}
	if foc.calls != 2 {
		t.Fatalf("after the rate limit: %d refocus requests, want 2", foc.calls)
	}
	// Focus found: the sharp frame reads.
	r, err := d.Decode(sharp)
	if err != nil || r.Text != tokenLike {
		t.Fatalf("sharp frame after refocus: %q, %v", r.Text, err)
	}
	if got := d.Stats().Refocus; got != 2 {
		t.Errorf("Stats().Refocus = %d, want 2", got)
	}
}

// While the lens sweeps by itself, sharpness swings from frame to frame:
// the decoder asks for no refocus then, however many frames fail, and asks
// once the lens has settled (the same blur frame after frame).
func TestNoRefocusWhileTheLensSweeps(t *testing.T) {
	blurred := blurredToken(t)
	// a frame of the sweep further from focus: much blurrier, unreadable
	sweep := render(t, tokenLike, screen.Options{Scale: 0.5, Blur: 7, Seed: 5})
	clk := clock.NewFake(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC))
	foc := &fakeFocuser{}
	// (reading across frames off: the stack of these frames reads)
	d := decode.New(decode.Options{Budget: testBudget, Focuser: foc, Clock: clk, NoStack: true})
	for i := 0; i < 12; i++ {
		f := blurred
		if i%2 == 1 {
			f = sweep
		}
		if _, err := d.Decode(f); !errors.Is(err, decode.ErrNoCode) {
			t.Fatalf("sweep frame %d: %v", i, err)
		}
		clk.Advance(33 * time.Millisecond)
	}
	if foc.calls != 0 {
		t.Fatalf("%d refocus requests while sharpness swung, want none", foc.calls)
	}
	for i := 0; i < steadyFramesForTest; i++ {
		d.Decode(blurred)
		clk.Advance(33 * time.Millisecond)
	}
	if foc.calls != 1 {
		t.Fatalf("%d refocus requests once the lens settled, want 1", foc.calls)
	}
	// the default pacing is about one sweep: not again at once, again
	// after half a second of failures
	d.Decode(blurred)
	if foc.calls != 1 {
		t.Fatalf("%d refocus requests right after one, want 1", foc.calls)
	}
	clk.Advance(500 * time.Millisecond)
	for i := 0; i < steadyFramesForTest; i++ {
		d.Decode(blurred)
	}
	if foc.calls != 2 {
		t.Fatalf("%d refocus requests after 500 ms more of failures, want 2", foc.calls)
	}
}

// steadyFramesForTest is enough frames of one blur for the lens to count
// as settled (the decoder looks at its last four).
const steadyFramesForTest = 4

func TestRefocusErrorIsNotFatal(t *testing.T) {
	blurred := blurredToken(t)
	foc := &fakeFocuser{err: errors.New("camera busy")}
	d := decode.New(decode.Options{Budget: testBudget, Focuser: foc, Clock: clock.NewFake(time.Unix(0, 0))})
	for i := 0; i < 4; i++ {
		if _, err := d.Decode(blurred); !errors.Is(err, decode.ErrNoCode) {
			t.Fatalf("frame %d: %v", i, err)
		}
	}
	if foc.calls != 1 {
		t.Errorf("refocus requests %d, want 1", foc.calls)
	}
}

func TestWorksWithoutFocuser(t *testing.T) {
	blurred := blurredToken(t)
	d := decode.New(decode.Options{Budget: testBudget})
	for i := 0; i < 5; i++ {
		if _, err := d.Decode(blurred); !errors.Is(err, decode.ErrNoCode) {
			t.Fatalf("frame %d: %v", i, err)
		}
	}
	if d.Stats().Refocus != 0 {
		t.Error("refocus counted without a Focuser")
	}
}

func TestSkipsClearlyBlurrierFrames(t *testing.T) {
	sharp := render(t, tokenLike, screen.Options{Seed: 1})
	soft := render(t, tokenLike, screen.Options{Seed: 1, Blur: 2.5})
	d := decode.New(decode.Options{Budget: testBudget, SkipBlurry: true})
	for i := 0; i < 3; i++ {
		if _, err := d.Decode(sharp); err != nil {
			t.Fatalf("sharp frame %d: %v", i, err)
		}
	}
	_, err := d.Decode(soft)
	if !errors.Is(err, decode.ErrSkipped) || !errors.Is(err, decode.ErrNoCode) {
		t.Fatalf("blurrier frame: got %v, want ErrSkipped wrapping ErrNoCode", err)
	}
	// The skip is bounded: the decoder does not skip forever when focus
	// stays soft, and the decayed best lets soft frames through.
	decoded := false
	for i := 0; i < 8 && !decoded; i++ {
		_, err := d.Decode(soft)
		decoded = !errors.Is(err, decode.ErrSkipped)
	}
	if !decoded {
		t.Error("soft frames skipped forever")
	}
	if d.Stats().Skipped == 0 {
		t.Error("Stats().Skipped = 0")
	}
	// Without SkipBlurry nothing is skipped.
	d2 := decode.New(decode.Options{Budget: testBudget})
	d2.Decode(sharp)
	d2.Decode(sharp)
	d2.Decode(sharp)
	if _, err := d2.Decode(soft); errors.Is(err, decode.ErrSkipped) {
		t.Error("skipped a frame without SkipBlurry")
	}
}

// plainGozxing reads img with gozxing alone, as the foundation did.
func plainGozxing(img *image.Gray) error {
	bmp, _ := gozxing.NewBinaryBitmapFromImage(img)
	_, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]interface{}{gozxing.DecodeHintType_TRY_HARDER: true})
	return err
}

func TestInvertedCodes(t *testing.T) {
	d := decode.New(decode.Options{Budget: testBudget})
	for _, o := range []screen.Options{
		{Dark: true},
		{Dark: true, Width: 1280, Height: 720, Roll: 20, Seed: 2},
		{Dark: true, Dim: 0.5, Noise: 4, Seed: 3},
	} {
		img := render(t, tokenLike, o)
		if plainGozxing(img) == nil {
			t.Errorf("%+v: plain gozxing read a dark-mode code; the test proves nothing", o)
		}
		r, err := d.Decode(img)
		if err != nil || r.Text != tokenLike {
			t.Errorf("dark mode %+v: %q, %v", o, r.Text, err)
		}
	}
	t.Logf("stages: %v", d.Stats().ByStage)
}

func TestROITracking(t *testing.T) {
	clk := clock.NewFake(time.Unix(1000, 0))
	d := decode.New(decode.Options{Budget: testBudget, Clock: clk})
	o := screen.Options{Width: 1280, Height: 720, Scale: 0.3, DX: 300, DY: 100, Seed: 1}
	r, err := d.Decode(render(t, tokenLike, o))
	if err != nil {
		t.Fatal(err)
	}
	centre := image.Pt(1280/2+300, 720/2+100)
	if !centre.In(r.Region) {
		t.Fatalf("region %v does not hold the code's centre %v", r.Region, centre)
	}
	if r.Region.Dx() > 1280/2 {
		t.Fatalf("region %v is not the code's", r.Region)
	}
	// The phone moves a little: the next frame reads in the tracked region.
	clk.Advance(100 * time.Millisecond)
	o.DX, o.DY, o.Seed = 310, 95, 2
	r2, err := d.Decode(render(t, tokenLike, o))
	if err != nil || r2.Text != tokenLike {
		t.Fatalf("second frame: %q, %v", r2.Text, err)
	}
	if n := d.Stats().ByStage["roi"]; n != 1 {
		t.Fatalf("roi stage successes %d, want 1 (stages %v)", n, d.Stats().ByStage)
	}
	// The region expires: after a pause the whole frame is searched again.
	clk.Advance(5 * time.Second)
	if _, err := d.Decode(render(t, tokenLike, o)); err != nil {
		t.Fatal(err)
	}
	if n := d.Stats().ByStage["roi"]; n != 1 {
		t.Errorf("roi used after it expired: %v", d.Stats().ByStage)
	}
}

func decodeOpts(w, h int) screen.Options { return screen.Options{Width: w, Height: h} }

// A scene without a phone never asks the camera to refocus, sharp or
// blurred, however many frames come.
func TestNoCodeNeverRefocuses(t *testing.T) {
	foc := &fakeFocuser{}
	clk := clock.NewFake(time.Unix(0, 0))
	d := decode.New(decode.Options{Budget: testBudget, Focuser: foc, Clock: clk, RefocusAfter: 1})
	for i := 0; i < 6; i++ {
		o := screen.Options{Seed: int64(i), Blur: float64(i) * 0.5}
		for _, img := range []*image.Gray{screen.Blank(o)} {
			if _, err := d.Decode(img); !errors.Is(err, decode.ErrNoCode) {
				t.Fatalf("frame %d: %v", i, err)
			}
			clk.Advance(3 * time.Second)
		}
	}
	if foc.calls != 0 {
		t.Errorf("%d refocus requests on scenes without a code, want 0", foc.calls)
	}
}
