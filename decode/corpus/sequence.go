package corpus

import (
	"fmt"
	"image"
	"math"
	"math/rand"

	"github.com/kipass/kipass/screen"
)

// SequenceCategories are the categories of frame sequences: a hand-held
// phone in front of the camera for 5 to 15 frames, trembling, while
// autofocus hunts (defocus) or the hand moves (motion).
var SequenceCategories = []string{"seq-defocus", "seq-motion"}

// Sequence is consecutive camera frames of one phone showing one code.
type Sequence struct {
	// Name is unique within a corpus, e.g. "seq-defocus-640x480-003".
	Name string
	// Category is one of SequenceCategories.
	Category string
	// Text is the code's content.
	Text string
	// Frames are the grey frames in order.
	Frames []*image.Gray
	// Options are the renderer settings of each frame.
	Options []screen.Options
}

// EachSequence generates PerCategory sequences per category (of
// SequenceCategories, or c.Categories when it names some) and size, and
// calls fn for each; it stops at the first error fn returns.
func EachSequence(c Config, fn func(Sequence) error) error {
	cats := SequenceCategories
	if c.Categories != nil {
		cats = c.Categories
	}
	sizes := c.Sizes
	if sizes == nil {
		sizes = Sizes
	}
	for ci, cat := range cats {
		if cat != "seq-defocus" && cat != "seq-motion" {
			return fmt.Errorf("corpus: unknown sequence category %q", cat)
		}
		for si, sz := range sizes {
			for i := 0; i < c.PerCategory; i++ {
				seed := c.Seed*2_000_003 + int64(ci)*200_003 + int64(si)*20_011 + int64(i)
				s, err := makeSequence(cat, sz, i, seed, c.Tokens)
				if err != nil {
					return err
				}
				s.Name = fmt.Sprintf("%s-%dx%d-%03d", cat, sz.X, sz.Y, i)
				if err := fn(s); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func makeSequence(cat string, sz image.Point, i int, seed int64, tokens []string) (Sequence, error) {
	r := rand.New(rand.NewSource(seed))
	text := TokenLike(r)
	if len(tokens) > 0 {
		text = tokens[r.Intn(len(tokens))]
	}
	if i%2 == 1 {
		text = Text(r, 1+(i/2)%10)
	}
	uni := func(a, b float64) float64 { return a + (b-a)*r.Float64() }
	d := uni(18, 28)
	base := screen.Options{
		Width: sz.X, Height: sz.Y,
		Roll:  uni(-8, 8),
		TiltX: uni(-5, 5), TiltY: uni(-5, 5),
		Noise: uni(1, 3),
		Scale: scaleAt(d), Distance: d / 5,
	}
	base.DX = int(uni(-0.15, 0.15) * float64(sz.X) * (1 - base.Scale))
	base.DY = int(uni(-0.1, 0.1) * float64(sz.Y) * (1 - base.Scale))
	n := 5 + r.Intn(11)
	// autofocus hunting: the lens sweeps through and past focus, so the
	// blur swings between a floor and a ceiling, at a random phase
	bmin, bspan := uni(1.4, 2.6), uni(0.6, 1.6)
	period, phase := uni(4, 9), uni(0, 2*math.Pi)
	motionAngle := uni(0, 180)
	s := Sequence{Category: cat, Text: text}
	x, y, roll := 0.0, 0.0, 0.0
	for k := 0; k < n; k++ {
		o := base
		o.Seed = seed*31 + int64(k)
		// tremor: a random walk of a pixel or two and a fraction of a degree
		x += r.NormFloat64() * 1.5
		y += r.NormFloat64() * 1.5
		roll += r.NormFloat64() * 0.3
		o.DX += int(math.Round(x))
		o.DY += int(math.Round(y))
		o.Roll += roll
		switch cat {
		case "seq-defocus":
			o.Blur = bmin + bspan*math.Abs(math.Sin(math.Pi*float64(k)/period+phase))
		case "seq-motion":
			o.MotionLen = uni(4, 10)
			o.MotionAngle = motionAngle + r.NormFloat64()*25
			o.Blur = uni(0, 0.8)
		}
		img, err := screen.Render(text, o)
		if err != nil {
			return Sequence{}, fmt.Errorf("corpus: %w", err)
		}
		s.Frames = append(s.Frames, img)
		s.Options = append(s.Options, o)
	}
	return s, nil
}
