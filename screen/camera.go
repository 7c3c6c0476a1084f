package screen

import (
	"image"
	"math/rand"
)

// Camera photographs any scene with the camera model of Render: shade
// gives the light (0 black .. 255 white, more for highlights) at an image
// point, sampled 2x2 per pixel; then o's Blur, MotionLen and MotionAngle,
// Dim and Noise (seeded by o.Seed) apply as they do to a phone. The
// geometry options (Scale, Roll, tilts, ...) are for shade to use, through
// Project.
func Camera(o Options, shade func(x, y float64) float64) (*image.Gray, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	w, h := o.Width, o.Height
	buf := make([]float32, w*h)
	offs := [4][2]float64{{0.25, 0.25}, {0.75, 0.25}, {0.25, 0.75}, {0.75, 0.75}}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var sum float64
			for _, d := range offs {
				sum += shade(float64(x)+d[0], float64(y)+d[1])
			}
			buf[y*w+x] = float32(sum / 4)
		}
	}
	return expose(buf, o, rand.New(rand.NewSource(o.Seed))), nil
}

// Project returns the map from an image point to a flat sheet's
// coordinates under o's placement (Width, Height, Scale, DX, DY, Roll,
// TiltX, TiltY, Distance), as Render places a phone: u and v are in code
// sides, origin at the code's centre, v downwards; ok is false when the
// ray misses the sheet.
func Project(o Options) (func(x, y float64) (u, v float64, ok bool), error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	return newScene(nil, o).plane, nil
}

// Background returns the seeded wall that Render draws behind the phone,
// as a function of the image point.
func Background(o Options) (func(x, y float64) float64, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	return newScene(nil, o).background, nil
}
