//go:build cgo && !nocv

package decode

import (
	"testing"
	"time"

	"github.com/kipass/kipass/screen"
)

// TestOpenCVStage runs the OpenCV stage alone (Detect corners, warp,
// gozxing) on tilted phone frames, in both polarities.
func TestOpenCVStage(t *testing.T) {
	const text = "KP1:OPENCVSTAGE234567ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	d := New(Options{})
	defer d.Close()
	if d.cv == nil {
		t.Fatal("cgo build without the OpenCV stage")
	}
	read := 0
	for i, o := range []screen.Options{
		{TiltX: 25, TiltY: -15, Roll: 10, Seed: 1},
		{TiltX: -30, Roll: 200, Seed: 2},
		{Dark: true, TiltY: 20, Seed: 3},
	} {
		img, err := screen.Render(text, o)
		if err != nil {
			t.Fatal(err)
		}
		f := &frameCtx{d: d, pix: img.Pix, w: img.Bounds().Dx(), h: img.Bounds().Dy(), deadline: time.Now().Add(time.Second)}
		f.base = img2(f)
		r, ok := d.cv.run(f)
		if ok && r.Text == text {
			read++
			if !r.Region.Overlaps(img.Bounds()) {
				t.Errorf("frame %d: region %v outside the frame", i, r.Region)
			}
		}
		t.Logf("frame %d: ok=%v region=%v", i, ok, r.Region)
	}
	if read < 2 {
		t.Errorf("OpenCV stage read %d of 3 frames", read)
	}
}

func img2(f *frameCtx) img { return img{f.pix, f.w, f.h, identity} }
