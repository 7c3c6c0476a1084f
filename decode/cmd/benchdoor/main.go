// Command benchdoor simulates visitors at the door and measures the time
// from a phone entering the camera's view to the verdict.
//
// A visit: the visitor brings a phone showing a token from 60 cm to about
// 25 cm over about one second (easing out), the hand trembles (a random
// walk of position and roll, and the motion blur of that speed at an
// 8 ms exposure set for a glowing screen), and the camera's autofocus
// hunts: when the phone appears the lens sweeps from far to near over
// 300-800 ms, so defocus follows the gap in dioptres between the lens and
// the phone, then locks at the phone's distance of that moment (stale
// while the phone keeps approaching). A refocus request starts the sweep
// again, after a settling time. Frames come at 30 fps, 640x480.
//
// Each row runs the same seeded visits in simulated real time: a decoder
// busy with one frame misses the frames that arrive meanwhile, and the
// verdict comes when the frame that reads has been processed. A frame's
// cost is the decoder's thread CPU time (zxing-cpp's worker reports its
// own), so load on the machine does not favour one row. Rows:
//
//	ours+refocus  the daemon's decoder: stream mode (costly stages spread
//	              over frames, a frame interval's budget), blur skipping,
//	              refocus requests, reading across frames (the stack
//	              stage)
//	ours plain    the same decoder as for stills: no stream mode, blur
//	              skipping, refocus or reading across frames, default
//	              budget
//	gozxing       plain gozxing (HybridBinarizer, TRY_HARDER) on each frame
//	zxing-cpp     zxing-cpp's read_barcodes on each frame (in-process
//	              Python worker, only the read call timed)
//	ideal         (only with -rows) a bound: ours as for stills on every
//	              frame as if it cost nothing, no refocus; the first
//	              frame our cascade can read on the first sweep
//
// Usage: go run ./decode/cmd/benchdoor [-visits 200] [-seed 1] [-workers N] [-rows a,b]
//
// -workers plays that many visits at once (default: one per CPU), each on
// its own locked OS thread with its own decoders and zxing-cpp worker;
// a frame's cost is thread CPU time, so the figures hardly depend on it;
// the wall time does.
package main

import (
	"errors"
	"flag"
	"fmt"
	"image"
	"math"
	"math/rand"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/kipass/kipass/decode"
	"github.com/kipass/kipass/decode/corpus"
	"github.com/kipass/kipass/decode/threadcpu"
	"github.com/kipass/kipass/decode/zxingcpp"
	"github.com/kipass/kipass/screen"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

const (
	fps      = 30
	giveUp   = 5 * time.Second
	width    = 640
	height   = 480
	exposure = 0.008 // seconds

	blurPerDioptre = 0.9 // Gaussian sigma in pixels per dioptre of focus error
)

// visit is one visitor's seeded parameters.
type visit struct {
	text               string
	dEnd, approach     float64 // final distance cm, approach time s
	hunt, settle       float64 // autofocus sweep and settling, s
	x0, y0, dx, dy     float64 // start and end offsets, fraction of frame
	roll, tiltX, tiltY float64
	seed               int64
	tremor             []tremorStep
}

type tremorStep struct{ x, y, roll float64 }

func newVisit(seed int64) visit {
	r := rand.New(rand.NewSource(seed))
	uni := func(a, b float64) float64 { return a + (b-a)*r.Float64() }
	v := visit{
		text: corpus.TokenLike(r), dEnd: uni(22, 28), approach: uni(0.8, 1.2),
		hunt: uni(0.3, 0.8), settle: uni(0.08, 0.15),
		x0: uni(-0.3, 0.3), y0: uni(0.15, 0.35), dx: uni(-0.1, 0.1), dy: uni(-0.08, 0.08),
		roll: uni(-15, 15), tiltX: uni(-15, 15), tiltY: uni(-15, 15), seed: seed,
	}
	x, y, roll := 0.0, 0.0, 0.0
	for k := 0; k < int(giveUp.Seconds()*fps)+1; k++ {
		x += r.NormFloat64() * 1.2
		y += r.NormFloat64() * 1.2
		roll += r.NormFloat64() * 0.25
		x, y = 0.9*x, 0.9*y // the hand comes back
		v.tremor = append(v.tremor, tremorStep{x, y, roll})
	}
	return v
}

// distance is the phone's distance at t seconds.
func (v visit) distance(t float64) float64 {
	s := math.Min(t/v.approach, 1)
	s = 1 - (1-s)*(1-s) // ease out
	return 60 + (v.dEnd-60)*s
}

// offset is the phone's centre in pixels from the frame centre at frame k.
func (v visit) offset(t float64, k int) (float64, float64) {
	s := math.Min(t/v.approach, 1)
	s = 1 - (1-s)*(1-s)
	x := (v.x0 + (v.dx-v.x0)*s) * width
	y := (v.y0 + (v.dy-v.y0)*s) * height
	return x + v.tremor[k].x, y + v.tremor[k].y
}

// lens is the autofocus: a sweep from far to near that locks at the
// phone's distance when it ends; Refocus starts another after settling.
type lens struct {
	v          *visit
	sweepStart float64 // s
	locked     float64 // dioptres (1/m) once locked, 0 while sweeping
	refocus    int
	asked      []float64 // when refocus was asked, s (effective or not)
	now        float64
	cache      map[int]*image.Gray // frames before any refocus, shared by the rows
}

func (l *lens) Refocus() error {
	l.asked = append(l.asked, l.now)
	if l.locked == 0 {
		return nil // already sweeping
	}
	l.refocus++
	l.sweepStart = l.now + l.v.settle
	l.locked = 0
	return nil
}

// dioptres is the lens focus at t, in 1/m.
func (l *lens) dioptres(t float64) float64 {
	if t < l.sweepStart {
		if l.locked != 0 {
			return l.locked
		}
		return 1 // far (1 m) before the first sweep or while settling
	}
	p := (t - l.sweepStart) / l.v.hunt
	if p >= 1 {
		if l.locked == 0 {
			l.locked = 100 / l.v.distance(l.sweepStart+l.v.hunt)
		}
		return l.locked
	}
	// far (1 m) to near (20 cm), then back to the phone: a hunting curve
	return 1 + 4*math.Sin(math.Pi*p)
}

// frame renders the frame at index k. Frames of the first sweep are the
// same for every row and come from the visit's cache.
func (l *lens) frame(k int) (*image.Gray, error) {
	t := float64(k) / fps
	l.now = t
	if l.refocus == 0 {
		if img, ok := l.cache[k]; ok {
			l.dioptres(t) // lock the lens as rendering would
			return img, nil
		}
		img, err := l.render(k, t)
		if err == nil {
			l.cache[k] = img
		}
		return img, err
	}
	return l.render(k, t)
}

func (l *lens) render(k int, t float64) (*image.Gray, error) {
	v := l.v
	d := v.distance(t)
	phone := 100 / d
	// blur: the gap in dioptres between lens and phone times the blur per
	// dioptre of a small webcam lens at this resolution, in pixels
	blur := 0.35 + blurPerDioptre*math.Abs(l.dioptres(t)-phone)
	x, y := v.offset(t, k)
	px, py := v.offset(t-1.0/fps, max(k-1, 0))
	speed := math.Hypot(x-px, y-py) * fps         // px/s
	approach := (v.distance(t-1.0/fps) - d) * fps // cm/s
	o := screen.Options{
		Width: width, Height: height, Seed: v.seed*1000 + int64(k),
		Scale: 5 / (2 * d * math.Tan(22.5*math.Pi/180)), Distance: d / 5,
		DX: int(x), DY: int(y),
		Roll: v.roll + v.tremor[k].roll, TiltX: v.tiltX, TiltY: v.tiltY,
		Blur:      math.Min(blur, 8),
		MotionLen: speed*exposure + approach*exposure*2, MotionAngle: math.Atan2(y-py, x-px) * 180 / math.Pi,
		Noise: 2.5, Dim: 0.25,
	}
	return screen.Render(v.text, o)
}

// reader is one row's decoder: it returns whether the frame read the
// visit's text and the time it took.
type reader interface {
	start(v *visit, l *lens)
	read(img *image.Gray, want string) (bool, time.Duration, error)
}

type ours struct {
	d       *decode.Decoder
	refocus bool
}

func (o *ours) start(v *visit, l *lens) {
	if o.d != nil {
		o.d.Close()
	}
	// without refocus, also without reading across frames
	opt := decode.Options{NoOpenCV: true, NoStack: !o.refocus}
	if o.refocus {
		// as the daemon runs it: stream mode with a frame interval's
		// budget, blur skipping, refocus requests
		opt.Focuser, opt.SkipBlurry, opt.Stream = l, true, true
		opt.Budget = time.Second / fps
		opt.Clock = simClock{l}
	}
	o.d = decode.New(opt)
}

func (o *ours) read(img *image.Gray, want string) (bool, time.Duration, error) {
	c0 := threadcpu.Now()
	r, err := o.d.Decode(img)
	return err == nil && r.Text == want, threadcpu.Now() - c0, nil
}

// simClock gives the decoder the simulated time, so refocus pacing and
// the ROI's lifetime follow the simulated frames.
type simClock struct{ l *lens }

func (c simClock) Now() time.Time {
	return time.Unix(1e9, 0).Add(time.Duration(c.l.now * float64(time.Second)))
}

func (c simClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

type plain struct{ r gozxing.Reader }

func (p *plain) start(*visit, *lens) { p.r = qrcode.NewQRCodeReader() }

func (p *plain) read(img *image.Gray, want string) (bool, time.Duration, error) {
	c0 := threadcpu.Now()
	src := gozxing.NewLuminanceSourceFromImage(img)
	bmp, err := gozxing.NewBinaryBitmap(gozxing.NewHybridBinarizer(src))
	if err != nil {
		return false, threadcpu.Now() - c0, nil
	}
	r, err := p.r.Decode(bmp, map[gozxing.DecodeHintType]interface{}{gozxing.DecodeHintType_TRY_HARDER: true})
	return err == nil && r.GetText() == want, threadcpu.Now() - c0, nil
}

// ideal is a bound, not a decoder: ours as for stills (the whole cascade,
// default budget) on every frame as if it took no time and without
// refocus (the lens makes one sweep). Its time to the verdict is when the
// first readable frame arrives: no decoder on this camera can do better
// without refocusing sooner.
type ideal struct{ d *decode.Decoder }

func (o *ideal) start(*visit, *lens) {
	if o.d != nil {
		o.d.Close()
	}
	o.d = decode.New(decode.Options{NoOpenCV: true})
}

func (o *ideal) read(img *image.Gray, want string) (bool, time.Duration, error) {
	o.d.Reset()
	r, err := o.d.Decode(img)
	return err == nil && r.Text == want, 0, nil
}

type cpp struct{ z *zxingcpp.Reader }

func (c *cpp) start(*visit, *lens) {}

func (c *cpp) read(img *image.Gray, want string) (bool, time.Duration, error) {
	r, err := c.z.Read(img)
	return r.Has(want), r.CPU, err
}

// run plays a visit in real time for one row and returns the time to the
// verdict, or -1 when nothing read within giveUp.
func run(v visit, rd reader, cache map[int]*image.Gray) (time.Duration, *lens, error) {
	l := &lens{v: &v, cache: cache}
	rd.start(&v, l)
	busyUntil := 0.0
	for k := 0; float64(k)/fps < giveUp.Seconds(); k++ {
		t := float64(k) / fps
		if t < busyUntil {
			continue // the decoder is still on an earlier frame
		}
		img, err := l.frame(k)
		if err != nil {
			return 0, l, err
		}
		ok, el, err := rd.read(img, v.text)
		if err != nil {
			return 0, l, err
		}
		busyUntil = t + el.Seconds()
		if ok {
			return time.Duration(busyUntil * float64(time.Second)), l, nil
		}
	}
	return -1, l, nil
}

func main() {
	visits := flag.Int("visits", 200, "seeded visits per row")
	only := flag.String("rows", "", "comma-separated rows to run (default: all but ideal); of "+strings.Join(rowNames, ", "))
	seed := flag.Int64("seed", 1, "first visit's seed")
	flag.BoolVar(&verbose, "v", false, "print each visit's time to the verdict and its refocus requests on stderr")
	workers := flag.Int("workers", runtime.NumCPU(), "visits played at once, each on its own locked thread with its own decoders")
	flag.Parse()
	if *workers < 1 {
		*workers = 1
	}
	runtime.GOMAXPROCS(*workers)
	keep, err := pickRows(*only)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchdoor:", err)
		os.Exit(2)
	}
	if err := bench(*visits, *seed, *workers, keep); err != nil {
		fmt.Fprintln(os.Stderr, "benchdoor:", err)
		os.Exit(1)
	}
}

// row is one decoder under test; each worker has its own.
type row struct {
	name string
	rd   reader
}

// verbose prints each visit's time and refocus requests (-v).
var verbose bool

func fmtTimes(ts []float64) string {
	if len(ts) == 0 {
		return "-"
	}
	var b strings.Builder
	for i, t := range ts {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%.2f", t)
	}
	return b.String()
}

// rowNames lists the rows -rows can name, in the order they print.
var rowNames = []string{"ours+refocus", "ours plain", "gozxing", "zxing-cpp", "ideal"}

// pickRows parses -rows; empty means every row but ideal.
func pickRows(s string) (map[string]bool, error) {
	keep := map[string]bool{}
	if strings.TrimSpace(s) == "" {
		for _, n := range rowNames {
			keep[n] = n != "ideal"
		}
		return keep, nil
	}
	for _, n := range strings.Split(s, ",") {
		n = strings.TrimSpace(n)
		if !slices.Contains(rowNames, n) {
			return nil, fmt.Errorf("-rows: unknown row %q (rows: %s)", n, strings.Join(rowNames, ", "))
		}
		keep[n] = true
	}
	return keep, nil
}

// newRows makes one set of the kept rows (zxing-cpp only when z is not
// nil).
func newRows(z *zxingcpp.Reader, keep map[string]bool) []row {
	all := []row{{"ours+refocus", &ours{refocus: true}}, {"ours plain", &ours{}}, {"gozxing", &plain{}}}
	if z != nil {
		all = append(all, row{"zxing-cpp", &cpp{z}})
	}
	all = append(all, row{"ideal", &ideal{}})
	var rows []row
	for _, r := range all {
		if keep[r.name] {
			rows = append(rows, r)
		}
	}
	return rows
}

func bench(n int, seed int64, workers int, keep map[string]bool) error {
	// Each worker plays every k-th visit through all rows, on its own
	// locked OS thread, so each decoder's thread CPU time is its own.
	sets := make([][]row, workers)
	for w := range sets {
		var z *zxingcpp.Reader
		var err error
		if keep["zxing-cpp"] {
			z, err = zxingcpp.Start()
		}
		if err != nil && !errors.Is(err, zxingcpp.ErrUnavailable) {
			return err
		}
		if z != nil {
			defer z.Close()
		} else if w == 0 && keep["zxing-cpp"] {
			fmt.Fprintln(os.Stderr, "zxing-cpp row skipped:", err)
		}
		sets[w] = newRows(z, keep)
	}
	rows := sets[0]
	start := time.Now()
	fmt.Printf("door: %d visits from seed %d, 640x480 at %d fps; each decoder on one thread (%d visits played at once, each on its own thread); time from the phone entering the view to the verdict\n\n", n, seed, fps, workers)
	fmt.Printf("%-13s %8s %8s %9s %9s %10s\n", "row", "median", "p95", "read ≤1s", "read ≤2s", "never ≤5s")
	// results[i][ri]: visit i's time to the verdict in row ri, in
	// seconds, +Inf when nothing read within giveUp.
	results := make([][]float64, n)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			for i := w; i < n; i += workers {
				v := newVisit(seed + int64(i))
				cache := map[int]*image.Gray{}
				results[i] = make([]float64, len(sets[w]))
				for ri, r := range sets[w] {
					d, l, err := run(v, r.rd, cache)
					if verbose {
						fmt.Fprintf(os.Stderr, "visit %3d %-13s %6.2fs  end %.0f cm after %.2fs, sweep %.2fs, refocus asked at %s, %d swept\n",
							i, r.name, d.Seconds(), v.dEnd, v.approach, v.hunt, fmtTimes(l.asked), l.refocus)
					}
					if err != nil {
						errs[w] = err
						return
					}
					results[i][ri] = math.Inf(1)
					if d >= 0 {
						results[i][ri] = d.Seconds()
					}
				}
			}
		}(w)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	times := make([][]float64, len(rows))
	never := make([]int, len(rows))
	for _, res := range results {
		for ri, t := range res {
			times[ri] = append(times[ri], t)
			if math.IsInf(t, 1) {
				never[ri]++
			}
		}
	}
	for ri, row := range rows {
		ts := times[ri]
		sort.Float64s(ts)
		within := func(s float64) float64 {
			c := 0
			for _, t := range ts {
				if t <= s {
					c++
				}
			}
			return 100 * float64(c) / float64(n)
		}
		q := func(p float64) string {
			t := ts[int(p*float64(n-1)+0.5)]
			if math.IsInf(t, 1) {
				return ">5s"
			}
			return fmt.Sprintf("%.2fs", t)
		}
		fmt.Printf("%-13s %8s %8s %8.1f%% %8.1f%% %9.1f%%\n", row.name, q(0.5), q(0.95), within(1), within(2), 100*float64(never[ri])/float64(n))
	}
	fmt.Printf("\n(measured in %s; a frame's cost is its decoder's thread CPU time, so machine load does not slow a row)\n", time.Since(start).Round(time.Second))
	return nil
}
