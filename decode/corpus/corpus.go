// Package corpus generates a seeded set of camera frames of phone screens
// showing QR codes, with known answers, for the decoder's tests and
// benchmarks. Each category isolates one thing a tablet camera does to a
// phone screen (tilt, moiré, glare, defocus, ...); "mixed" combines them and
// "nocode" has no phone at all. The printed categories after it (curved,
// art, tiny, nested; see print.go) photograph codes on paper.
package corpus

import (
	"fmt"
	"image"
	"math"
	"math/rand"
	"strings"

	"github.com/kipass/kipass/screen"
)

// Categories lists the distortion categories, in table order.
var Categories = []string{
	"clean", "distance", "tilt", "rotation", "moire", "glare", "defocus",
	"motion", "noise", "lowlight", "inverted", "mixed", "nocode",
	"curved", "art", "tiny", "nested",
}

// Sizes are the frame sizes of the corpus.
var Sizes = []image.Point{{640, 480}, {1280, 720}}

// Frame is one generated camera frame with its known answer.
type Frame struct {
	// Name is unique within a corpus, e.g. "tilt-640x480-007".
	Name string
	// Category is one of Categories.
	Category string
	// Text is the code's content; "" for frames with no code.
	Text string
	// Version is the QR version of the code (0 without a code).
	Version int
	// Img is the grey frame.
	Img *image.Gray
	// Options are the renderer settings that made the frame.
	Options screen.Options
}

// Config selects what to generate.
type Config struct {
	// Seed makes the corpus reproducible.
	Seed int64
	// PerCategory is the number of frames per category and size.
	PerCategory int
	// Categories restricts the categories (nil: all).
	Categories []string
	// Sizes restricts the frame sizes (nil: Sizes).
	Sizes []image.Point
	// Tokens are token texts to show; every other frame shows one of
	// them, the rest show random texts of QR versions 1 to 10. When
	// empty, token-like texts (about 150 QR-alphanumeric characters) are
	// made up.
	Tokens []string
}

// Each generates the corpus frame by frame and calls fn for each; it stops
// at the first error fn returns. Frames are independent of each other, so
// one frame's parameters do not depend on the categories selected.
func Each(c Config, fn func(Frame) error) error {
	cats := c.Categories
	if cats == nil {
		cats = Categories
	}
	sizes := c.Sizes
	if sizes == nil {
		sizes = Sizes
	}
	for _, cat := range cats {
		ci := indexOf(cat)
		if ci < 0 {
			return fmt.Errorf("corpus: unknown category %q", cat)
		}
		for si, sz := range sizes {
			for i := 0; i < c.PerCategory; i++ {
				seed := c.Seed*1_000_003 + int64(ci)*100_003 + int64(si)*10_007 + int64(i)
				f, err := makeFrame(cat, sz, i, seed, c.Tokens)
				if err != nil {
					return err
				}
				f.Name = fmt.Sprintf("%s-%dx%d-%03d", cat, sz.X, sz.Y, i)
				if err := fn(f); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Generate returns the whole corpus in memory.
func Generate(c Config) ([]Frame, error) {
	var out []Frame
	err := Each(c, func(f Frame) error { out = append(out, f); return nil })
	return out, err
}

func indexOf(cat string) int {
	for i, c := range Categories {
		if c == cat {
			return i
		}
	}
	return -1
}

// byteCapM is the byte-mode capacity of QR versions 1..10 at level M.
var byteCapM = []int{0, 14, 26, 42, 62, 84, 106, 122, 152, 180, 213}

// Text returns a random text that encodes as QR version v (1..10) at
// level M in byte mode.
func Text(r *rand.Rand, v int) string {
	if v < 1 || v > 10 {
		v = 1 + r.Intn(10)
	}
	lo, hi := byteCapM[v-1]+1, byteCapM[v]
	n := lo + r.Intn(hi-lo+1)
	const chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -._~:/?#[]@!$&'()*+,;="
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteByte(chars[r.Intn(len(chars))])
	}
	return b.String()
}

// TokenLike returns a made-up token text: "KP1:" and about 146 characters
// of A–Z, 2–7 and ':', the shape of a KI-Pass token.
func TokenLike(r *rand.Rand) string {
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	var b strings.Builder
	b.WriteString("KP1:")
	for i := 0; i < 146; i++ {
		if i == 8 || i == 100 {
			b.WriteByte(':')
			continue
		}
		b.WriteByte(chars[r.Intn(len(chars))])
	}
	return b.String()
}

// scaleAt returns the code's side as a fraction of frame height for a
// 5 cm code at d cm from a camera with a 45° vertical field of view.
func scaleAt(d float64) float64 {
	return 5 / (2 * d * math.Tan(22.5*math.Pi/180))
}

func makeFrame(cat string, sz image.Point, i int, seed int64, tokens []string) (Frame, error) {
	r := rand.New(rand.NewSource(seed))
	var text string
	if i%2 == 0 {
		if len(tokens) > 0 {
			text = tokens[r.Intn(len(tokens))]
		} else {
			text = TokenLike(r)
		}
	} else {
		text = Text(r, 1+(i/2)%10)
	}
	if Printed(cat) {
		return makePrinted(cat, sz, i, seed, text, r)
	}
	uni := func(a, b float64) float64 { return a + (b-a)*r.Float64() }
	d := uni(18, 28) // typical distance in cm
	o := screen.Options{
		Width: sz.X, Height: sz.Y, Seed: seed,
		Roll:  uni(-8, 8),
		TiltX: uni(-5, 5), TiltY: uni(-5, 5),
		Noise: uni(1, 3),
	}
	tilt := func(maxDeg float64) {
		th, phi := uni(0, maxDeg), uni(0, 2*math.Pi)
		o.TiltX, o.TiltY = th*math.Cos(phi), th*math.Sin(phi)
	}
	switch cat {
	case "clean", "nocode":
	case "distance":
		d = uni(15, 40)
	case "tilt":
		th, phi := uni(15, 40), uni(0, 2*math.Pi)
		o.TiltX, o.TiltY = th*math.Cos(phi), th*math.Sin(phi)
	case "rotation":
		o.Roll = uni(0, 360)
	case "moire":
		o.Moire = uni(0.3, 0.7)
		o.MoirePitch = uni(6, 16)
	case "glare":
		o.Glare = uni(0.5, 1.2)
		o.GlareU, o.GlareV = uni(-0.4, 0.4), uni(-0.4, 0.4)
	case "defocus":
		o.Blur = uni(0.8, 3)
	case "motion":
		o.MotionLen, o.MotionAngle = uni(3, 10), uni(0, 180)
	case "noise":
		o.Noise = uni(8, 22)
	case "lowlight":
		o.Dim = uni(0.6, 0.85)
		o.Noise = uni(3, 7)
	case "inverted":
		o.Dark = true
	case "mixed":
		d = uni(15, 35)
		tilt(30)
		o.Roll = uni(0, 360)
		o.Moire = uni(0, 0.4)
		o.MoirePitch = uni(6, 16)
		if r.Intn(2) == 0 {
			o.Glare = uni(0.2, 0.7)
			o.GlareU, o.GlareV = uni(-0.4, 0.4), uni(-0.4, 0.4)
		}
		o.Blur = uni(0, 1.5)
		o.MotionLen, o.MotionAngle = uni(0, 4), uni(0, 180)
		o.Dim = uni(0, 0.5)
		o.Noise = uni(2, 8)
		o.Dark = r.Intn(3) == 0
	default:
		return Frame{}, fmt.Errorf("corpus: unknown category %q", cat)
	}
	o.Scale = scaleAt(d)
	o.Distance = d / 5
	// Keep the phone's code inside the frame: offset it a little.
	o.DX = int(uni(-0.15, 0.15) * float64(sz.X) * (1 - o.Scale))
	o.DY = int(uni(-0.1, 0.1) * float64(sz.Y) * (1 - o.Scale))
	f := Frame{Category: cat, Options: o}
	if cat == "nocode" {
		// half without a phone, half with a phone showing text
		if i%2 == 0 {
			f.Img = screen.Blank(o)
		} else {
			f.Img = screen.Phone(o)
		}
		return f, nil
	}
	c, err := screen.Encode(text, o.Level, 0)
	if err != nil {
		return Frame{}, fmt.Errorf("corpus: %w", err)
	}
	img, err := screen.Render(text, o)
	if err != nil {
		return Frame{}, fmt.Errorf("corpus: %w", err)
	}
	f.Text, f.Version, f.Img = text, c.Version, img
	return f, nil
}
