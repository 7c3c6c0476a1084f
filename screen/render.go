package screen

import (
	"fmt"
	"image"
	"math"
	"math/rand"
)

// Options place the phone in the camera frame and describe what the camera
// does to the picture. The zero value is a sharp, frontal, well-lit phone in
// the middle of a 640x480 frame.
type Options struct {
	// Width and Height are the frame size in pixels, default 640x480.
	Width, Height int
	// Scale is the side of the code, quiet zone included, as a fraction of
	// the frame height when the phone faces the camera; default 0.45.
	Scale float64
	// DX and DY offset the phone from the centre of the frame, in pixels.
	DX, DY int
	// Dark is dark mode: the screen is dark and the code is inverted.
	Dark bool
	// Level is the error correction level, "L", "M", "Q" or "H"; default M.
	Level string
	// MinVersion forces at least this QR version (0: smallest that fits).
	MinVersion int

	// Roll rotates the phone in its own plane, in degrees.
	Roll float64
	// TiltX and TiltY tilt the phone about the horizontal and vertical
	// axes, in degrees.
	TiltX, TiltY float64
	// Distance is the camera distance in code sides; it sets how strong
	// the perspective of a tilt is. Default 6 (a 4 cm code at 24 cm).
	Distance float64

	// Moire is the contrast (0..1) of the screen's pixel grid, which
	// aliases against the camera's sensor grid.
	Moire float64
	// MoirePitch is the number of screen pixels per QR module, default 7.3.
	MoirePitch float64
	// Glare is the strength (0..1) of a reflected hot spot on the glass.
	Glare float64
	// GlareU and GlareV place the hot spot on the phone, in code sides
	// from the code's centre.
	GlareU, GlareV float64
	// Blur is the defocus blur, a Gaussian sigma in pixels.
	Blur float64
	// MotionLen and MotionAngle are a linear motion blur, in pixels and
	// degrees.
	MotionLen, MotionAngle float64
	// Dim darkens the scene: 0 is normal light, 0.8 keeps 20% of it.
	Dim float64
	// Noise is the sensor noise, a Gaussian sigma in grey levels.
	Noise float64
	// Seed makes the noise and background texture reproducible.
	Seed int64
}

// MaxSide is the largest frame side Render and Blank accept.
const MaxSide = 8192

func (o *Options) defaults() error {
	if o.Width == 0 {
		o.Width = 640
	}
	if o.Height == 0 {
		o.Height = 480
	}
	if o.Width < 1 || o.Height < 1 || o.Width > MaxSide || o.Height > MaxSide {
		return fmt.Errorf("screen: frame %dx%d: %w", o.Width, o.Height, ErrBadOption)
	}
	if o.Scale == 0 {
		o.Scale = 0.45
	}
	if o.Distance == 0 {
		o.Distance = 6
	}
	if o.MoirePitch == 0 {
		o.MoirePitch = 7.3
	}
	if o.Scale < 0 || o.Distance <= 1 || o.MoirePitch < 0 || o.Blur < 0 || o.MotionLen < 0 ||
		o.Dim < 0 || o.Dim >= 1 || o.Noise < 0 || math.Abs(o.TiltX) >= 80 || math.Abs(o.TiltY) >= 80 {
		return fmt.Errorf("screen: options: %w", ErrBadOption)
	}
	return nil
}

// Render draws text as a QR code on a phone screen (bright screen, dark
// phone bezel) in front of a background, as a grey camera frame.
func Render(text string, o Options) (*image.Gray, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	c, err := Encode(text, o.Level, o.MinVersion)
	if err != nil {
		return nil, err
	}
	return render(c, o), nil
}

// Blank renders the same scene as Render without a phone, for frames with
// no code. Invalid options give a mid-grey 640x480 frame.
func Blank(o Options) *image.Gray {
	if err := o.defaults(); err != nil {
		img := image.NewGray(image.Rect(0, 0, 640, 480))
		for i := range img.Pix {
			img.Pix[i] = 128
		}
		return img
	}
	return render(nil, o)
}

// Phone renders the scene of Render with the phone showing an app screen
// of text instead of a code, for frames with no code that still have
// fine, high-contrast detail.
func Phone(o Options) *image.Gray {
	if err := o.defaults(); err != nil {
		return Blank(o)
	}
	return renderScene(newScene(nil, o), o, true)
}

// scene holds the geometry of one frame.
type scene struct {
	o      Options
	c      *Code
	text   bool       // draw a text screen instead of a code
	n      float64    // modules across the code, quiet zone included
	r      [9]float64 // plane-to-camera rotation, row major
	nz     [3]float64 // plane normal in camera space
	dist   float64
	f      float64
	cx, cy float64
	rng    *rand.Rand
	bgA    [4]float64 // background texture coefficients
}

func deg(a float64) float64 { return a * math.Pi / 180 }

func newScene(c *Code, o Options) *scene {
	s := &scene{o: o, c: c, dist: o.Distance}
	if c != nil {
		s.n = float64(c.Size + 2*QuietZone)
	}
	s.rng = rand.New(rand.NewSource(o.Seed))
	for i := range s.bgA {
		s.bgA[i] = s.rng.Float64()
	}
	cr, sr := math.Cos(deg(o.Roll)), math.Sin(deg(o.Roll))
	cx, sx := math.Cos(deg(o.TiltX)), math.Sin(deg(o.TiltX))
	cy, sy := math.Cos(deg(o.TiltY)), math.Sin(deg(o.TiltY))
	rz := [9]float64{cr, -sr, 0, sr, cr, 0, 0, 0, 1}
	rx := [9]float64{1, 0, 0, 0, cx, -sx, 0, sx, cx}
	ry := [9]float64{cy, 0, sy, 0, 1, 0, -sy, 0, cy}
	s.r = mul3(ry, mul3(rx, rz))
	s.nz = [3]float64{s.r[2], s.r[5], s.r[8]}
	s.f = o.Scale * float64(o.Height) * o.Distance
	s.cx = float64(o.Width)/2 + float64(o.DX)
	s.cy = float64(o.Height)/2 + float64(o.DY)
	return s
}

func mul3(a, b [9]float64) [9]float64 {
	var m [9]float64
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			m[i*3+j] = a[i*3]*b[j] + a[i*3+1]*b[3+j] + a[i*3+2]*b[6+j]
		}
	}
	return m
}

// plane maps an image point to phone-plane coordinates (code sides, origin
// at the code's centre); ok is false when the ray misses the plane.
func (s *scene) plane(x, y float64) (u, v float64, ok bool) {
	dx, dy := (x-s.cx)/s.f, (y-s.cy)/s.f
	den := s.nz[0]*dx + s.nz[1]*dy + s.nz[2]
	if den < 1e-9 {
		return 0, 0, false
	}
	t := s.nz[2] * s.dist / den
	px, py, pz := t*dx, t*dy, t-s.dist
	// local = R^T * p
	u = s.r[0]*px + s.r[3]*py + s.r[6]*pz
	v = s.r[1]*px + s.r[4]*py + s.r[7]*pz
	return u, v, true
}

// Phone layout in code sides, origin at the code's centre, v downwards.
const (
	scrL, scrR, scrT, scrB = -0.56, 0.56, -0.78, 1.32
	bodyL, bodyR           = -0.63, 0.63
	bodyT, bodyB           = -0.92, 1.46
	bodyRadius             = 0.16
)

// background is a smooth, seeded wall behind the phone; it is the sum of
// a column term and a row term, so render tabulates both.
func (s *scene) background(x, y float64) float64 {
	return s.bgCol(x) + s.bgRow(y)
}

func (s *scene) bgCol(x float64) float64 {
	a := s.bgA
	return 12 * math.Sin(x/float64(s.o.Width)*(3+4*a[0])+a[1]*6)
}

func (s *scene) bgRow(y float64) float64 {
	h := float64(s.o.Height)
	a := s.bgA
	return 70 + 50*y/h + 8*math.Sin(y/h*(2+5*a[2])+a[3]*6)
}

// shade returns the light leaving the scene at an image point; bg is the
// background there (it varies slowly, so callers compute it per pixel).
func (s *scene) shade(x, y, bg float64) float64 {
	if s.c == nil && !s.text {
		return bg
	}
	u, v, ok := s.plane(x, y)
	if !ok || !inRounded(u, v, bodyL, bodyT, bodyR, bodyB, bodyRadius) {
		return bg
	}
	var l float64
	white, black := 235.0, 22.0
	if !(u >= scrL && u < scrR && v >= scrT && v < scrB) {
		l = 14 // bezel
	} else {
		bg, fg := white, black
		if s.o.Dark {
			bg, fg = black, 225
		}
		l = bg
		switch {
		case s.text && v >= scrT+0.12 && v < scrB-0.1 && u > scrL+0.06 && u < scrR-0.06:
			if s.ink(u, v) {
				l = fg
			}
		case s.text:
		case u >= -0.5 && u < 0.5 && v >= -0.5 && v < 0.5:
			mx := int(math.Floor((u+0.5)*s.n)) - QuietZone
			my := int(math.Floor((v+0.5)*s.n)) - QuietZone
			if s.c.Dark(mx, my) {
				l = fg
			}
		case v < scrT+0.08: // status bar
			l = 0.6*bg + 0.4*fg
		case v >= 0.72 && v < 0.9 && u > -0.4 && u < 0.4: // a button
			l = 0.5*bg + 0.5*fg
		}
		if s.o.Moire > 0 {
			p := 1 / (s.n * s.o.MoirePitch) // screen pixel pitch in code sides
			fu, fv := u/p-math.Floor(u/p), v/p-math.Floor(v/p)
			if fu > 0.7 || fv > 0.7 {
				l *= 1 - s.o.Moire
			}
		}
	}
	if s.o.Glare > 0 {
		du, dv := u-s.o.GlareU, v-s.o.GlareV
		l += s.o.Glare * 255 * math.Exp(-(du*du+dv*dv)/(2*0.18*0.18))
	}
	return l
}

// ink draws lines of small glyph-like strokes, like text in an app.
func (s *scene) ink(u, v float64) bool {
	const line, cell = 0.075, 0.032
	li := math.Floor(v / line)
	fv := v/line - li
	if fv > 0.5 {
		return false
	}
	ci := math.Floor(u / cell)
	fu := u/cell - ci
	h := uint32(int64(li)*7919+int64(ci)*104729+s.o.Seed) * 2654435761
	h ^= h >> 13
	if h%6 == 0 || int(ci)%11 > 8+int(h%3) { // spaces, ragged line ends
		return false
	}
	// a glyph: a few strokes inside the cell
	switch h % 4 {
	case 0:
		return fu < 0.25 || fv < 0.1
	case 1:
		return fu > 0.55 && fu < 0.8
	case 2:
		return fv > 0.35 && fu < 0.8
	}
	return (fu < 0.2 || fu > 0.6 && fu < 0.8) && fv > 0.1
}

func inRounded(u, v, l, t, r, b, rad float64) bool {
	if u < l || u >= r || v < t || v >= b {
		return false
	}
	cu := math.Max(l+rad-u, math.Max(u-(r-rad), 0))
	cv := math.Max(t+rad-v, math.Max(v-(b-rad), 0))
	return cu*cu+cv*cv <= rad*rad
}

func render(c *Code, o Options) *image.Gray {
	return renderScene(newScene(c, o), o, false)
}

func renderScene(s *scene, o Options, text bool) *image.Gray {
	s.text = text
	w, h := o.Width, o.Height
	buf := make([]float32, w*h)
	// 2x2 supersampling: antialiased edges, yet fine screen grids still alias.
	offs := [4][2]float64{{0.25, 0.25}, {0.75, 0.25}, {0.25, 0.75}, {0.75, 0.75}}
	col := make([]float64, w)
	for x := range col {
		col[x] = s.bgCol(float64(x) + 0.5)
	}
	for y := 0; y < h; y++ {
		row := s.bgRow(float64(y) + 0.5)
		for x := 0; x < w; x++ {
			bg := col[x] + row
			var sum float64
			for _, d := range offs {
				sum += s.shade(float64(x)+d[0], float64(y)+d[1], bg)
			}
			buf[y*w+x] = float32(sum / 4)
		}
	}
	return expose(buf, o, s.rng)
}

// expose applies the camera to the light of a scene (w*h values, row
// major): defocus, motion, dimming and sensor noise drawn from rng.
func expose(buf []float32, o Options, rng *rand.Rand) *image.Gray {
	w, h := o.Width, o.Height
	if o.Blur > 0 {
		gaussian(buf, w, h, o.Blur)
	}
	if o.MotionLen > 0 {
		buf = motion(buf, w, h, o.MotionLen, deg(o.MotionAngle))
	}
	img := image.NewGray(image.Rect(0, 0, w, h))
	gain := 1 - o.Dim
	for i, v := range buf {
		f := float64(v) * gain
		if o.Noise > 0 {
			f += rng.NormFloat64() * o.Noise
		}
		img.Pix[i] = clamp8(f)
	}
	return img
}

func clamp8(f float64) uint8 {
	switch {
	case f <= 0 || f != f:
		return 0
	case f >= 255:
		return 255
	}
	return uint8(f + 0.5)
}

// gaussian blurs buf in place with a separable Gaussian of the given sigma.
func gaussian(buf []float32, w, h int, sigma float64) {
	r := int(math.Ceil(3 * sigma))
	k := make([]float32, 2*r+1)
	var sum float32
	for i := -r; i <= r; i++ {
		k[i+r] = float32(math.Exp(-float64(i*i) / (2 * sigma * sigma)))
		sum += k[i+r]
	}
	for i := range k {
		k[i] /= sum
	}
	tmp := make([]float32, len(buf))
	for y := 0; y < h; y++ {
		row := buf[y*w : y*w+w]
		for x := 0; x < w; x++ {
			var a float32
			for i := -r; i <= r; i++ {
				a += k[i+r] * row[clampi(x+i, 0, w-1)]
			}
			tmp[y*w+x] = a
		}
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var a float32
			for i := -r; i <= r; i++ {
				a += k[i+r] * tmp[clampi(y+i, 0, h-1)*w+x]
			}
			buf[y*w+x] = a
		}
	}
}

// motion averages buf along a line of the given length and angle.
func motion(buf []float32, w, h int, length, angle float64) []float32 {
	n := int(math.Ceil(length))
	if n < 2 {
		return buf
	}
	dx, dy := math.Cos(angle), math.Sin(angle)
	out := make([]float32, len(buf))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var a float32
			for i := 0; i < n; i++ {
				t := (float64(i)/float64(n-1) - 0.5) * length
				sx := clampi(int(math.Round(float64(x)+t*dx)), 0, w-1)
				sy := clampi(int(math.Round(float64(y)+t*dy)), 0, h-1)
				a += buf[sy*w+sx]
			}
			out[y*w+x] = a / float32(n)
		}
	}
	return out
}

func clampi(v, lo, hi int) int {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}
