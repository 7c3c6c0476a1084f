// Command benchdecode measures the decoder against zxing-cpp on the same
// generated screen-photo frames, both in-process and on one thread each:
// our decoder runs in this process on in-memory grey frames; zxing-cpp runs
// in a persistent Python worker (python3-zxing-cpp), which times only its
// read_barcodes call on a numpy array of the same bytes. Frame generation,
// the pipe to the worker and image loading are not timed on either side.
//
// It prints, per distortion category, the share read by each decoder and
// the split of frames into both read / only ours / only zxing-cpp / neither,
// then median and p95 ms per frame for each category and split, and a
// summary per frame size. With -testdata it also reads gozxing's own QR
// test photos.
//
// Usage: go run ./decode/cmd/benchdecode [-n 12] [-seed 1] [-v] [-budget 100ms]
package main

import (
	"flag"
	"fmt"
	"image"
	_ "image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/kipass/kipass/decode"
	"github.com/kipass/kipass/decode/corpus"
	"github.com/kipass/kipass/decode/threadcpu"
	"github.com/kipass/kipass/decode/zxingcpp"
)

var (
	keep    string
	verbose bool
	budget  time.Duration
)

// sample is one frame's outcome on both sides.
type sample struct {
	cat, size       string
	ours, theirs    bool
	oursMS, theirMS float64
}

// split names the four outcome classes.
func (s sample) split() string {
	switch {
	case s.ours && s.theirs:
		return "both"
	case s.ours:
		return "only ours"
	case s.theirs:
		return "only zxing"
	}
	return "neither"
}

var splits = []string{"both", "only ours", "only zxing", "neither"}

func main() {
	n := flag.Int("n", 12, "frames per category and size")
	seed := flag.Int64("seed", 1, "corpus seed")
	testdata := flag.Bool("testdata", true, "also decode gozxing's testdata photos")
	flag.StringVar(&keep, "keep", "", "also write the single frames as PNGs into this folder")
	seqs := flag.Int("seq", 0, "also run this many frame sequences per sequence category and size (0: none)")
	cats := flag.String("categories", "", "comma-separated categories (default all)")
	procs := flag.Int("procs", 1, "GOMAXPROCS for our side (1: one thread, like the worker)")
	flag.BoolVar(&verbose, "v", false, "list frames zxing-cpp read and ours did not")
	flag.DurationVar(&budget, "budget", 0, "our decoder's per-frame budget (0: the decoder's default)")
	flag.Parse()
	runtime.GOMAXPROCS(*procs)
	if err := run(*n, *seed, *testdata, *cats, *seqs); err != nil {
		fmt.Fprintln(os.Stderr, "benchdecode:", err)
		os.Exit(1)
	}
}

func run(n int, seed int64, testdata bool, cats string, seqs int) error {
	if keep != "" {
		if err := os.MkdirAll(keep, 0o755); err != nil {
			return err
		}
	}
	ref, err := zxingcpp.Start()
	if err != nil {
		return fmt.Errorf("%w (make deps-bench)", err)
	}
	defer ref.Close()
	cfg := corpus.Config{Seed: seed, PerCategory: n}
	if cats != "" {
		cfg.Categories = strings.Split(cats, ",")
	}
	dec := decode.New(decode.Options{Budget: budget})
	defer dec.Close()
	var res []sample
	var hopeless []*image.Gray // 640x480 code frames ours did not read
	start := time.Now()
	err = corpus.Each(cfg, func(f corpus.Frame) error {
		if keep != "" {
			if err := writePNG(filepath.Join(keep, f.Name+".png"), f.Img); err != nil {
				return err
			}
		}
		size := fmt.Sprintf("%dx%d", f.Img.Bounds().Dx(), f.Img.Bounds().Dy())
		dec.Reset() // independent stills: no history between frames
		t0 := time.Now()
		r, err := dec.Decode(f.Img)
		el := time.Since(t0)
		z, zerr := ref.Read(f.Img)
		if zerr != nil {
			return zerr
		}
		s := sample{cat: f.Category, size: size, oursMS: ms(el), theirMS: ms(z.Elapsed)}
		if f.Text == "" {
			s.ours, s.theirs = err != nil, len(z.Texts) == 0
		} else {
			s.ours, s.theirs = err == nil && r.Text == f.Text, z.Has(f.Text)
		}
		if !s.ours && f.Text != "" && size == "640x480" {
			hopeless = append(hopeless, f.Img)
		}
		if verbose && s.theirs && !s.ours {
			fmt.Fprintf(os.Stderr, "zxing-cpp read %s (v%d), ours did not\n", f.Name, f.Version)
		}
		res = append(res, s)
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Printf("corpus: seed %d, %d frames (%d per category and size), budget %v, GOMAXPROCS %d, measured in %s\n",
		seed, len(res), n, budgetName(), runtime.GOMAXPROCS(0), time.Since(start).Round(time.Second))
	fmt.Println("timed: ours = Decode on an in-memory grey frame; zxing-cpp = read_barcodes on a numpy array, inside the worker")
	fmt.Println("not timed: frame generation, the pipe to the worker, image loading")
	fmt.Println()
	printRates(res)
	printTimes(res)
	printSizes(res)
	printHopeless(hopeless)
	if seqs > 0 {
		if err := printSequences(ref, seed, seqs); err != nil {
			return err
		}
	}
	if testdata {
		printTestdata(ref)
	}
	return nil
}

// printSequences reads frame sequences (hand-held phone, tremor,
// autofocus hunting or motion) frame by frame: a sequence counts as read
// when any of its frames reads. Ours runs as in the daemon (history kept
// between the frames of a sequence, reset between sequences); zxing-cpp
// reads each frame on its own.
func printSequences(ref *zxingcpp.Reader, seed int64, per int) error {
	type tally struct{ n, ours, theirs, oursFrames, theirFrames, frames int }
	t := map[string]*tally{}
	dec := decode.New(decode.Options{Budget: budget})
	defer dec.Close()
	err := corpus.EachSequence(corpus.Config{Seed: seed, PerCategory: per}, func(s corpus.Sequence) error {
		c := t[s.Category]
		if c == nil {
			c = &tally{}
			t[s.Category] = c
		}
		c.n++
		dec.Reset()
		var o, z bool
		for _, f := range s.Frames {
			c.frames++
			if r, err := dec.Decode(f); err == nil && r.Text == s.Text {
				o = true
				c.oursFrames++
			}
			zr, err := ref.Read(f)
			if err != nil {
				return err
			}
			if zr.Has(s.Text) {
				z = true
				c.theirFrames++
			}
		}
		if o {
			c.ours++
		}
		if z {
			c.theirs++
		}
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Printf("%-12s %5s %8s %8s %12s %12s\n", "sequences", "n", "ours", "zxing", "ours frames", "zxing frames")
	for _, cat := range corpus.SequenceCategories {
		c := t[cat]
		if c == nil {
			continue
		}
		fmt.Printf("%-12s %5d %7.1f%% %7.1f%% %11.1f%% %11.1f%%\n", cat, c.n, pct(c.ours, c.n), pct(c.theirs, c.n), pct(c.oursFrames, c.frames), pct(c.theirFrames, c.frames))
	}
	fmt.Println("(a sequence is read when any of its frames reads; frames: share of single frames read)")
	fmt.Println()
	return nil
}

func budgetName() string {
	if budget == 0 {
		return "default"
	}
	return budget.String()
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

func categories(res []sample) []string {
	seen := map[string]bool{}
	for _, s := range res {
		seen[s.cat] = true
	}
	var out []string
	for _, c := range corpus.Categories {
		if seen[c] {
			out = append(out, c)
		}
	}
	return out
}

func printRates(res []sample) {
	fmt.Printf("%-10s %5s %8s %8s %6s %10s %11s %8s\n", "category", "n", "ours", "zxing", "both", "only ours", "only zxing", "neither")
	row := func(name string, pred func(sample) bool) {
		var n, o, z int
		sp := map[string]int{}
		for _, s := range res {
			if !pred(s) {
				continue
			}
			n++
			if s.ours {
				o++
			}
			if s.theirs {
				z++
			}
			sp[s.split()]++
		}
		if n == 0 {
			return
		}
		fmt.Printf("%-10s %5d %7.1f%% %7.1f%% %6d %10d %11d %8d\n", name, n, pct(o, n), pct(z, n), sp["both"], sp["only ours"], sp["only zxing"], sp["neither"])
	}
	for _, c := range categories(res) {
		row(c, func(s sample) bool { return s.cat == c })
	}
	row("overall", func(s sample) bool { return s.cat != "nocode" && !corpus.Printed(s.cat) })
	row("printed", func(s sample) bool { return corpus.Printed(s.cat) })
	fmt.Println("(nocode: a frame counts as read when the decoder reports no code; overall: the screen categories")
	fmt.Println("without nocode; printed: curved, art, tiny, nested)")
	fmt.Println()
}

func pct(a, b int) float64 { return 100 * float64(a) / float64(max(b, 1)) }

func printTimes(res []sample) {
	fmt.Printf("%-10s %-11s %4s %9s %9s %9s %9s\n", "ms/frame", "split", "n", "ours med", "ours p95", "zxing med", "zxing p95")
	for _, c := range categories(res) {
		for _, sp := range splits {
			var o, z []float64
			for _, s := range res {
				if s.cat == c && s.split() == sp {
					o, z = append(o, s.oursMS), append(z, s.theirMS)
				}
			}
			if len(o) == 0 {
				continue
			}
			fmt.Printf("%-10s %-11s %4d %9s %9s %9s %9s\n", c, sp, len(o), quantile(o, 0.5), quantile(o, 0.95), quantile(z, 0.5), quantile(z, 0.95))
		}
	}
	fmt.Println()
}

// printSizes sums up per frame size: frames with a code that both read,
// and frames without a code.
func printSizes(res []sample) {
	fmt.Printf("%-28s %4s %9s %9s %9s %9s %12s\n", "per size", "n", "ours med", "ours p95", "zxing med", "zxing p95", "sum ours/zx")
	sizes := map[string]bool{}
	for _, s := range res {
		sizes[s.size] = true
	}
	var names []string
	for s := range sizes {
		names = append(names, s)
	}
	sort.Strings(names)
	for _, size := range names {
		for _, row := range []struct {
			label string
			pred  func(sample) bool
		}{
			{"code, both read", func(s sample) bool { return s.cat != "nocode" && s.ours && s.theirs }},
			{"code, neither read", func(s sample) bool { return s.cat != "nocode" && !s.ours && !s.theirs }},
			{"no code", func(s sample) bool { return s.cat == "nocode" }},
		} {
			var o, z []float64
			var so, sz float64
			for _, s := range res {
				if s.size == size && row.pred(s) {
					o, z = append(o, s.oursMS), append(z, s.theirMS)
					so += s.oursMS
					sz += s.theirMS
				}
			}
			if len(o) == 0 {
				continue
			}
			fmt.Printf("%-28s %4d %9s %9s %9s %9s %11.2fx\n", size+" "+row.label, len(o), quantile(o, 0.5), quantile(o, 0.95), quantile(z, 0.5), quantile(z, 0.95), so/max(sz, 1e-9))
		}
	}
	fmt.Println()
}

func quantile(v []float64, q float64) string {
	if len(v) == 0 {
		return "-"
	}
	v = append([]float64(nil), v...)
	sort.Float64s(v)
	return fmt.Sprintf("%.2f", v[int(q*float64(len(v)-1)+0.5)])
}

// printTestdata decodes gozxing's testdata photos on both sides, in
// process, after loading each photo (not timed).
func printTestdata(ref *zxingcpp.Reader) {
	photos, err := corpus.GozxingPhotos()
	if err != nil {
		fmt.Println("gozxing testdata:", err)
		return
	}
	dec := decode.New(decode.Options{Budget: budget})
	defer dec.Close()
	var ok, zok int
	var o, z []float64
	for _, p := range photos {
		f, err := os.Open(p.Path)
		if err != nil {
			continue
		}
		img, _, err := image.Decode(f)
		f.Close()
		if err != nil {
			continue
		}
		g := decode.Gray(img)
		dec.Reset()
		t0 := time.Now()
		r, err := dec.Decode(g)
		o = append(o, ms(time.Since(t0)))
		if err == nil && r.Text == p.Text {
			ok++
		}
		zr, err := ref.Read(g)
		if err == nil {
			z = append(z, ms(zr.Elapsed))
			if zr.Has(p.Text) {
				zok++
			}
		}
	}
	fmt.Printf("gozxing testdata photos (qrcode-1, qrcode-6): %d images, in-process after loading\n", len(photos))
	fmt.Printf("  ours:      read %2d, median %s ms, p95 %s ms\n", ok, quantile(o, 0.5), quantile(o, 0.95))
	fmt.Printf("  zxing-cpp: read %2d, median %s ms, p95 %s ms\n", zok, quantile(z, 0.5), quantile(z, 0.95))
}

func writePNG(path string, img image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// printHopeless measures the thread CPU that frames ours cannot read cost
// at 640x480: in stream mode (the daemon: each frame fed three times in a
// row, as a camera would repeat the scene, a 33 ms budget) and in stills
// mode (one call, default budget).
func printHopeless(frames []*image.Gray) {
	if len(frames) == 0 {
		return
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var stream, stills []float64
	sd := decode.New(decode.Options{Stream: true, Budget: time.Second / 30})
	defer sd.Close()
	od := decode.New(decode.Options{Budget: budget})
	defer od.Close()
	for _, img := range frames {
		sd.Reset()
		for k := 0; k < 3; k++ {
			c0 := threadcpu.Now()
			sd.Decode(img)
			stream = append(stream, ms(threadcpu.Now()-c0))
		}
		od.Reset()
		c0 := threadcpu.Now()
		od.Decode(img)
		stills = append(stills, ms(threadcpu.Now()-c0))
	}
	fmt.Printf("hopeless 640x480 frames (%d code frames ours did not read), thread CPU per frame:\n", len(frames))
	fmt.Printf("  stream mode (33 ms budget, 5 ms slice, 3 frames each): median %s ms, p95 %s ms, max %s ms\n", quantile(stream, 0.5), quantile(stream, 0.95), quantile(stream, 1))
	fmt.Printf("  stills mode (budget %s): median %s ms, p95 %s ms, max %s ms\n", budgetName(), quantile(stills, 0.5), quantile(stills, 0.95), quantile(stills, 1))
	fmt.Println()
}
