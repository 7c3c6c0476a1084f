package decode

import (
	"image"
	"math"
	"testing"
)

// The Wiener filter undoes a known Gaussian blur: a blurred step edge
// comes back much steeper than it went in.
func TestWienerSharpensKnownBlur(t *testing.T) {
	const w, h, sigma = 64, 64, 2.0
	pix := make([]byte, w*h)
	// a vertical edge, blurred with the same Gaussian the filter assumes
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := 0.5 * (1 + math.Erf((float64(x)-31.5)/(sigma*math.Sqrt2)))
			pix[y*w+x] = byte(40 + 170*v)
		}
	}
	var db deblurrer
	if !db.load(pix, w, image.Rect(0, 0, w, h)) {
		t.Fatal("load refused a 64x64 image")
	}
	out := db.apply(psf{'g', sigma, 0}, 0.001)
	row := out[32*w : 33*w]
	before := int(pix[32*w+32]) - int(pix[32*w+31])
	after := int(row[32]) - int(row[31])
	if after < 2*before {
		t.Errorf("edge step %d after deconvolution, %d before: want at least twice as steep", after, before)
	}
	if row[20] > 40 || row[44] < 215 {
		t.Errorf("flat sides %d and %d, want dark and light", row[20], row[44])
	}
}

// The structure tensor finds the direction of a motion smear: a pattern
// smeared horizontally has little horizontal gradient.
func TestMotionAngleFindsSmearDirection(t *testing.T) {
	const w, h = 80, 80
	pix := make([]byte, w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			pix[y*w+x] = byte(128 + 100*math.Sin(float64(y)*0.9) + 10*math.Sin(float64(x)*0.05))
		}
	}
	a, aniso := motionAngle(pix, w, image.Rect(0, 0, w, h))
	if d := math.Abs(math.Remainder(a, math.Pi)); d > 0.1 {
		t.Errorf("angle %.2f rad, want about 0 (horizontal)", a)
	}
	if aniso < 0.8 {
		t.Errorf("anisotropy %.2f, want close to 1", aniso)
	}
}

// The transform round-trips.
func TestFFTRoundTrip(t *testing.T) {
	const n = 16
	a := make([]complex128, n*n)
	for i := range a {
		a[i] = complex(float64((i*37)%11), 0)
	}
	b := append([]complex128(nil), a...)
	tw := twiddles(n)
	fft2(b, n, tw, false)
	if math.Abs(real(b[0])-sum(a)) > 1e-9 {
		t.Errorf("DC %v, want the sum %v", b[0], sum(a))
	}
	fft2(b, n, tw, true)
	for i := range a {
		if math.Abs(real(a[i]-b[i])) > 1e-9 || math.Abs(imag(b[i])) > 1e-9 {
			t.Fatalf("element %d: %v after round trip, want %v", i, b[i], a[i])
		}
	}
}

func sum(a []complex128) float64 {
	var s float64
	for _, v := range a {
		s += real(v)
	}
	return s
}
