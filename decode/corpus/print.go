package corpus

import (
	"fmt"
	"image"
	"math"
	"math/rand"

	"github.com/kipass/kipass/screen"
)

// The printed categories photograph a code on paper instead of a phone
// screen, with the camera model of screen.Camera:
//
//	curved  a label on a bottle or pillar (the sheet wrapped round a
//	        cylinder, foreshortened and shaded towards its sides), or a
//	        wavy, wrinkled sheet (a smooth displacement field of up to
//	        about two modules, with the shading of its folds)
//	art     level-H codes drawn as art: a picture over the centre
//	        (covering up to an eighth of the symbol), dark modules in
//	        graded tones, round dots instead of squares, a picture
//	        blended behind the light modules
//	tiny    pure codes at 1 to 2.5 pixels per module (a third at most
//	        1.5), with the lens blur and sensor noise of a camera
//	nested  a small code inside a larger picture: in the middle of a
//	        larger code-like design (three large finder patterns and
//	        random modules, which is no valid code) or on a poster with
//	        pictures, strokes and finder-like squares
//
// Every printed frame holds exactly one code, and its text is the answer.
// QR Model 1 is not among them: no encoder for it is at hand (gozxing,
// zxing-cpp 1.4, libqrencode and qrcodegen write Model 2 only), and no
// reader here reads it (zxing-cpp reads Model 1 from 2.2 on; Debian has
// 1.4).

// Printed reports whether a category is one of the printed ones (curved,
// art, tiny, nested).
func Printed(cat string) bool {
	switch cat {
	case "curved", "art", "tiny", "nested":
		return true
	}
	return false
}

// sheet is a printed code and how to draw it, in code sides with the
// origin at the code's centre (the code with its quiet zone spans -0.5 to
// 0.5).
type sheet struct {
	c        *screen.Code
	n        float64 // modules across, quiet zone included
	paper    float64 // paper white
	ink      float64 // ink black
	half     [4]float64
	dots     float64 // dot radius in modules (0: square modules)
	grade    float64 // how far dark modules grade towards grey (0: flat ink)
	gradeDir float64
	behind   float64 // opacity of the picture behind light modules
	logo     float64 // half side of the centre picture, in code sides (0: none)
	pic      picture
	poster   func(u, v float64) (float64, bool) // what surrounds the code, when the sheet is a poster
}

// picture is a smooth seeded picture: a few soft blobs and bands.
type picture struct {
	blobs [6][4]float64 // u, v, radius, level
	bands [2][3]float64 // direction, frequency, phase
}

func newPicture(r *rand.Rand, spread float64) picture {
	var p picture
	for i := range p.blobs {
		p.blobs[i] = [4]float64{(r.Float64() - 0.5) * spread, (r.Float64() - 0.5) * spread, 0.05 + 0.2*r.Float64()*spread, r.Float64()}
	}
	for i := range p.bands {
		p.bands[i] = [3]float64{r.Float64() * math.Pi, 2 + 6*r.Float64(), r.Float64() * 2 * math.Pi}
	}
	return p
}

// at returns the picture's level (0 dark .. 1 light) at (u, v).
func (p picture) at(u, v float64) float64 {
	l := 0.5
	for _, b := range p.blobs {
		du, dv := u-b[0], v-b[1]
		l += (b[3] - 0.5) * 1.4 * math.Exp(-(du*du+dv*dv)/(2*b[2]*b[2]))
	}
	for _, b := range p.bands {
		l += 0.15 * math.Sin((u*math.Cos(b[0])+v*math.Sin(b[0]))*b[1]*2*math.Pi+b[2])
	}
	return math.Max(0, math.Min(1, l))
}

// at returns the sheet's reflectance times 255 at (u, v), and whether the
// point is on the sheet at all.
func (s *sheet) at(u, v float64) (float64, bool) {
	if u < -0.5 || u >= 0.5 || v < -0.5 || v >= 0.5 {
		if s.poster != nil {
			return s.poster(u, v)
		}
		if u < s.half[0] || u >= s.half[1] || v < s.half[2] || v >= s.half[3] {
			return 0, false
		}
		return s.paper, true
	}
	if s.logo > 0 && math.Abs(u) < s.logo && math.Abs(v) < s.logo {
		in := s.logo - 0.6/s.n // a white rim of 0.6 modules round the picture
		if math.Abs(u) < in && math.Abs(v) < in {
			return s.ink + (s.paper-s.ink)*s.pic.at(u*3, v*3), true
		}
		return s.paper, true
	}
	fu, fv := (u+0.5)*s.n, (v+0.5)*s.n
	mx, my := int(math.Floor(fu))-screen.QuietZone, int(math.Floor(fv))-screen.QuietZone
	fu, fv = fu-math.Floor(fu), fv-math.Floor(fv)
	light := s.paper
	if s.behind > 0 {
		light = (1-s.behind)*s.paper + s.behind*(s.ink+(s.paper-s.ink)*s.pic.at(u, v))
	}
	if !s.c.Dark(mx, my) {
		return light, true
	}
	finder := (mx < 7 || mx >= s.c.Size-7) && my < 7 || mx < 7 && my >= s.c.Size-7
	if s.dots > 0 && !finder {
		du, dv := fu-0.5, fv-0.5
		if du*du+dv*dv > s.dots*s.dots {
			return light, true
		}
	}
	dark := s.ink
	if s.grade > 0 {
		t := 0.5 + 0.5*(u*math.Cos(s.gradeDir)+v*math.Sin(s.gradeDir))
		dark += s.grade * t * (s.paper - s.ink)
	}
	return dark, true
}

// makePrinted makes a frame of a printed category; r has chosen text.
func makePrinted(cat string, sz image.Point, i int, seed int64, text string, r *rand.Rand) (Frame, error) {
	uni := func(a, b float64) float64 { return a + (b-a)*r.Float64() }
	level := "M"
	if cat == "art" {
		level = "H"
	}
	c, err := screen.Encode(text, level, 0)
	if err != nil {
		return Frame{}, fmt.Errorf("corpus: %w", err)
	}
	s := &sheet{c: c, n: float64(c.Size + 2*screen.QuietZone), paper: uni(200, 245), ink: uni(15, 50)}
	s.half = [4]float64{-uni(0.55, 0.9), uni(0.55, 0.9), -uni(0.55, 0.9), uni(0.55, 1.2)}
	d := uni(18, 30)
	o := screen.Options{
		Width: sz.X, Height: sz.Y, Seed: seed,
		Level: level,
		Roll:  uni(-10, 10),
		Noise: uni(1, 4),
		Blur:  uni(0.3, 0.8),
	}
	th, phi := uni(0, 12), uni(0, 2*math.Pi)
	o.TiltX, o.TiltY = th*math.Cos(phi), th*math.Sin(phi)
	o.Scale = scaleAt(d)
	// warp maps flat-sheet coordinates to the sheet's own and gives the
	// shading there; nil is a flat sheet.
	var warp func(u, v float64) (float64, float64, float64, bool)
	switch cat {
	case "curved":
		if i%2 == 0 {
			warp = cylinder(r, s, o)
		} else {
			warp = wrinkles(r, s)
		}
		th, phi := uni(0, 20), uni(0, 2*math.Pi)
		o.TiltX, o.TiltY = th*math.Cos(phi), th*math.Sin(phi)
		o.Blur = uni(0.3, 1.2)
	case "art":
		s.pic = newPicture(r, 1)
		styles := 0
		for styles == 0 {
			if r.Intn(2) == 0 {
				// up to an eighth of the symbol under the picture: about the
				// codewords level H restores in small versions
				s.logo = math.Sqrt(uni(0.04, 0.12)) * float64(c.Size) / s.n / 2
				styles++
			}
			if r.Intn(2) == 0 {
				s.grade, s.gradeDir = uni(0.2, 0.45), uni(0, 2*math.Pi)
				styles++
			}
			if r.Intn(2) == 0 {
				s.dots = uni(0.3, 0.5)
				styles++
			}
			if r.Intn(2) == 0 {
				s.behind = uni(0.15, 0.45)
				styles++
			}
		}
		th, phi := uni(0, 25), uni(0, 2*math.Pi)
		o.TiltX, o.TiltY = th*math.Cos(phi), th*math.Sin(phi)
		o.Roll = uni(0, 360)
		o.Scale = scaleAt(uni(15, 25))
		o.Blur = uni(0.3, 1)
	case "tiny":
		px := uni(1.5, 2.5) // pixels per module
		if i%3 == 0 {
			px = uni(1, 1.5)
		}
		o.Scale = px * s.n / float64(sz.Y)
		o.TiltX, o.TiltY = 0, 0
		if i%2 == 0 {
			o.Roll = 0 // a pure code: square to the frame
		} else {
			o.Roll = uni(0, 360)
		}
		o.Blur = uni(0.3, 0.6)
		o.Noise = uni(1, 3)
		s.half = [4]float64{-0.6, 0.6, -0.6, 0.6}
	case "nested":
		inner := uni(0.28, 0.4) // the code's side as a fraction of the poster's
		o.Scale = inner * uni(0.7, 0.95)
		if i%2 == 0 {
			s.poster = bigCode(r, s, inner)
		} else {
			s.poster = poster(r, s, inner)
		}
	}
	o.Distance = d / 5
	o.DX = int(uni(-0.15, 0.15) * float64(sz.X) * (1 - o.Scale))
	o.DY = int(uni(-0.1, 0.1) * float64(sz.Y) * (1 - o.Scale))
	proj, err := screen.Project(o)
	if err != nil {
		return Frame{}, fmt.Errorf("corpus: %w", err)
	}
	bg, _ := screen.Background(o)
	// light falls unevenly across the sheet
	gu, gv, lamp := uni(-0.2, 0.2), uni(-0.2, 0.2), uni(0.8, 1.05)
	img, err := screen.Camera(o, func(x, y float64) float64 {
		u, v, ok := proj(x, y)
		if !ok {
			return bg(x, y)
		}
		shade := 1.0
		if warp != nil {
			if u, v, shade, ok = warp(u, v); !ok {
				return bg(x, y)
			}
		}
		l, ok := s.at(u, v)
		if !ok {
			return bg(x, y)
		}
		return l * shade * lamp * (1 + gu*u + gv*v)
	})
	if err != nil {
		return Frame{}, fmt.Errorf("corpus: %w", err)
	}
	return Frame{Category: cat, Text: text, Version: c.Version, Img: img, Options: o}, nil
}

// cylinder wraps the sheet round a cylinder of 0.55 to 1 code side's
// radius (a 5 cm code on a bottle or pillar 5.5 to 10 cm across) whose axis lies in the sheet at any angle: the view's
// coordinate across the axis is R·sin θ of the arc R·θ, points towards
// the sides are farther (smaller) and darker.
func cylinder(r *rand.Rand, s *sheet, o screen.Options) func(u, v float64) (float64, float64, float64, bool) {
	rad := 0.55 + 0.45*r.Float64()
	ax := r.Float64() * math.Pi
	ca, sa := math.Cos(ax), math.Sin(ax)
	lit := (r.Float64() - 0.5) * 1.2 // direction of the light across the axis
	dist := 6.0
	if o.Distance > 1 {
		dist = o.Distance
	}
	s.half = [4]float64{-2, 2, -0.6 - 0.3*r.Float64(), 0.6 + 0.3*r.Float64()}
	return func(u, v float64) (float64, float64, float64, bool) {
		a, b := u*ca+v*sa, -u*sa+v*ca // a across the axis, b along it
		if math.Abs(a) >= rad {
			return 0, 0, 0, false
		}
		t := math.Asin(a / rad)
		a = rad * t
		b *= (dist + rad*(1-math.Cos(t))) / dist
		shade := 0.55 + 0.45*math.Cos(t-lit)
		return a*ca - b*sa, a*sa + b*ca, shade, true
	}
}

// wrinkles displaces the sheet by a smooth field of a few waves and
// creases, up to about two modules, shaded by the slope of its folds.
func wrinkles(r *rand.Rand, s *sheet) func(u, v float64) (float64, float64, float64, bool) {
	type wave struct{ ku, kv, ph, amp float64 }
	var ws [4]wave
	total := (0.8 + 1.4*r.Float64()) / s.n // largest displacement, code sides
	for k := range ws {
		dir := r.Float64() * math.Pi
		f := 2 * math.Pi * (0.6 + 2.4*r.Float64()) // 0.6 to 3 waves per code side
		ws[k] = wave{f * math.Cos(dir), f * math.Sin(dir), r.Float64() * 2 * math.Pi, total / 4 * (0.5 + r.Float64())}
	}
	lu, lv := r.Float64()-0.5, r.Float64()-0.5
	return func(u, v float64) (float64, float64, float64, bool) {
		du, dv, slope := 0.0, 0.0, 0.0
		for k, w := range ws {
			p := w.ku*u + w.kv*v + w.ph
			sn, cs := math.Sin(p), math.Cos(p)
			if k%2 == 0 {
				du += w.amp * sn
			} else {
				dv += w.amp * sn
			}
			slope += w.amp * cs * (w.ku*lu + w.kv*lv)
		}
		return u + du, v + dv, math.Max(0.4, math.Min(1.2, 1+4*slope)), true
	}
}

// bigCode draws, round a code whose side is inner of the whole, a larger
// code-like design: three finder patterns at its corners and random
// modules, with a paper panel in the middle holding the code.
func bigCode(r *rand.Rand, s *sheet, inner float64) func(u, v float64) (float64, bool) {
	side := 1 / inner // the design's side in code sides
	m := 4*(4+r.Intn(8)) + 17
	bits := make([]bool, m*m)
	for k := range bits {
		bits[k] = r.Intn(2) == 0
	}
	mod := side / float64(m+2) // with one module of margin
	panel := 0.5 + 0.5*mod
	return func(u, v float64) (float64, bool) {
		if math.Abs(u) < panel && math.Abs(v) < panel {
			return s.paper, true
		}
		fu, fv := (u+side/2)/mod-1, (v+side/2)/mod-1
		if fu < -1 || fv < -1 || fu >= float64(m+1) || fv >= float64(m+1) {
			return 0, false
		}
		x, y := int(math.Floor(fu)), int(math.Floor(fv))
		if x < 0 || y < 0 || x >= m || y >= m {
			return s.paper, true
		}
		if f, ok := finderAt(x, y, m); ok {
			if f {
				return s.ink, true
			}
			return s.paper, true
		}
		if bits[y*m+x] {
			return s.ink, true
		}
		return s.paper, true
	}
}

// finderAt reports whether module (x, y) of an m-module code lies in a
// finder pattern or its separator, and if so whether it is dark.
func finderAt(x, y, m int) (dark, in bool) {
	for _, c := range [][2]int{{0, 0}, {m - 7, 0}, {0, m - 7}} {
		dx, dy := x-c[0], y-c[1]
		if dx >= -1 && dx <= 7 && dy >= -1 && dy <= 7 {
			if dx < 0 || dy < 0 || dx > 6 || dy > 6 {
				return false, true // separator
			}
			ring := max(abs(dx-3), abs(dy-3))
			return ring != 2, true
		}
	}
	return false, false
}

func abs(a int) int {
	if a < 0 {
		return -a
	}
	return a
}

// poster draws a picture round the code: soft shapes, lines of text-like
// strokes and two to four finder-like squares of other sizes; the code
// sits off the poster's centre.
func poster(r *rand.Rand, s *sheet, inner float64) func(u, v float64) (float64, bool) {
	side := 1 / inner
	// the poster's centre, from the code's: the code sits in one part of it
	cu, cv := (r.Float64()-0.5)*(side-1.2), (r.Float64()-0.5)*(side-1.2)
	pic := newPicture(r, side)
	type square struct{ u, v, size float64 }
	var sq []square
	for k := 2 + r.Intn(3); k > 0; k-- {
		q := square{cu + (r.Float64()-0.5)*side*0.8, cv + (r.Float64()-0.5)*side*0.8, (0.15 + 0.35*r.Float64())}
		if math.Abs(q.u) < 0.5+q.size && math.Abs(q.v) < 0.5+q.size {
			continue // keep clear of the code's quiet zone
		}
		sq = append(sq, q)
	}
	return func(u, v float64) (float64, bool) {
		pu, pv := u-cu, v-cv
		if math.Abs(pu) >= side/2 || math.Abs(pv) >= side/2 {
			return 0, false
		}
		if math.Abs(u) < 0.55 && math.Abs(v) < 0.55 {
			return s.paper, true // the code's quiet zone and a margin
		}
		for _, q := range sq {
			du, dv := (u-q.u)/q.size*7, (v-q.v)/q.size*7
			if math.Abs(du) < 3.5 && math.Abs(dv) < 3.5 {
				ring := math.Max(math.Abs(du), math.Abs(dv))
				if ring < 1.5 || ring >= 2.5 {
					return s.ink, true
				}
				return s.paper, true
			}
		}
		// a band of text-like strokes across the poster's lower part
		if pv > side/4 && pv < side/4+0.3 {
			line := math.Floor(pv / 0.06)
			if pv/0.06-line < 0.5 {
				cell := math.Floor(pu / 0.03)
				h := uint32(int64(line)*7919+int64(cell)*104729) * 2654435761
				if h%5 != 0 && (pu/0.03-cell < 0.3 || h%3 == 0) {
					return s.ink, true
				}
			}
		}
		return s.ink + (s.paper-s.ink)*pic.at(pu, pv), true
	}
}
