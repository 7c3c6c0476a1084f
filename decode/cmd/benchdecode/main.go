// Command benchdecode measures the decoder against zxing-cpp's ZXingReader
// and zbar's zbarimg on the same generated screen-photo frames, and prints a
// side-by-side table: decode rate per distortion category, median and p95
// ms per frame at 640x480 and 1280x720, and ms on frames with no code. With
// -testdata it also reads gozxing's own QR test photos.
//
// Our decoder is timed in-process on in-memory frames. The external tools
// are timed per file as wall time minus the median wall time of the same
// tool on a 1x1 PNG (process start and library loading), sampled every
// eight frames through the run so that load drift hits both alike; their
// figures still include reading the PNG.
//
// Usage: go run ./decode/cmd/benchdecode [-n 12] [-seed 1] [-keep DIR] [-v] [-budget 60ms]
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"image"
	_ "image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/kipass/kipass/decode"
	"github.com/kipass/kipass/decode/corpus"
)

type tool struct {
	name     string
	run      func(path string) (string, bool) // decoded text, ok
	overhead []float64                        // wall ms on a 1x1 PNG, sampled through the run
}

// sampleOverhead times the tool on a 1x1 PNG: process start and library
// loading, the part of a per-file call that is not decoding.
func (t *tool) sampleOverhead(tiny string) {
	t0 := time.Now()
	t.run(tiny)
	t.overhead = append(t.overhead, ms(time.Since(t0)))
}

// base is the median overhead sample.
func (t *tool) base() float64 {
	v := append([]float64(nil), t.overhead...)
	if len(v) == 0 {
		return 0
	}
	sort.Float64s(v)
	return v[len(v)/2]
}

var (
	verbose bool
	budget  time.Duration
)

type sample struct {
	cat  string
	size string
	ok   bool
	ms   float64
}

func main() {
	n := flag.Int("n", 12, "frames per category and size")
	seed := flag.Int64("seed", 1, "corpus seed")
	keep := flag.String("keep", "", "write the frames to this folder and keep them")
	testdata := flag.Bool("testdata", true, "also decode gozxing's testdata photos")
	cats := flag.String("categories", "", "comma-separated categories (default all)")
	flag.BoolVar(&verbose, "v", false, "list frames another decoder read and ours did not")
	flag.DurationVar(&budget, "budget", 0, "our decoder's per-frame budget (0: the decoder's default)")
	flag.Parse()
	if err := run(*n, *seed, *keep, *testdata, *cats); err != nil {
		fmt.Fprintln(os.Stderr, "benchdecode:", err)
		os.Exit(1)
	}
}

func run(n int, seed int64, keep string, testdata bool, cats string) error {
	dir := keep
	if dir == "" {
		d, err := os.MkdirTemp("", "benchdecode")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tools := externalTools()
	tiny := filepath.Join(dir, "tiny-1x1.png")
	if err := writePNG(tiny, image.NewGray(image.Rect(0, 0, 1, 1))); err != nil {
		return err
	}
	cfg := corpus.Config{Seed: seed, PerCategory: n}
	if cats != "" {
		cfg.Categories = strings.Split(cats, ",")
	}
	results := map[string][]sample{}
	dec := decode.New(decode.Options{Budget: budget})
	defer dec.Close()
	start := time.Now()
	frames := 0
	err := corpus.Each(cfg, func(f corpus.Frame) error {
		frames++
		path := filepath.Join(dir, f.Name+".png")
		if err := writePNG(path, f.Img); err != nil {
			return err
		}
		size := fmt.Sprintf("%dx%d", f.Img.Bounds().Dx(), f.Img.Bounds().Dy())
		dec.Reset() // independent stills: no history between frames
		t0 := time.Now()
		r, err := dec.Decode(f.Img)
		el := time.Since(t0)
		results["ours"] = append(results["ours"], sample{f.Category, size, correct(f.Text, r.Text, err), ms(el)})
		ours := correct(f.Text, r.Text, err)
		for _, t := range tools {
			if frames%8 == 1 {
				t.sampleOverhead(tiny) // interleaved, so load drift affects both alike
			}
			t0 := time.Now()
			text, ok := t.run(path)
			el := time.Since(t0)
			theirs := correct(f.Text, text, boolErr(ok))
			results[t.name] = append(results[t.name], sample{f.Category, size, theirs, ms(el)})
			if verbose && theirs && !ours {
				fmt.Fprintf(os.Stderr, "%s read %s (v%d), ours did not\n", t.name, f.Name, f.Version)
			}
		}
		if keep == "" {
			os.Remove(path)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, t := range tools {
		b := t.base()
		for i := range results[t.name] {
			results[t.name][i].ms = max(results[t.name][i].ms-b, 0)
		}
		fmt.Fprintf(os.Stderr, "%s: per-call overhead %.1f ms (median of %d samples, subtracted)\n", t.name, b, len(t.overhead))
	}
	names := []string{"ours"}
	for _, t := range tools {
		names = append(names, t.name)
	}
	fmt.Printf("corpus: seed %d, %d frames (%d per category and size), generated and measured in %s\n\n",
		seed, frames, n, time.Since(start).Round(time.Second))
	printRates(names, results)
	printTimes(names, results)
	if testdata {
		printTestdata(tools)
	}
	return nil
}

// correct reports whether a decode result counts as right: the known text
// for frames with a code, and "no code" for frames without one.
func correct(want, got string, err error) bool {
	if want == "" {
		return err != nil || got == ""
	}
	return err == nil && got == want
}

func boolErr(ok bool) error {
	if ok {
		return nil
	}
	return errors.New("no result")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func printRates(names []string, res map[string][]sample) {
	fmt.Printf("%-10s %5s", "category", "n")
	for _, nm := range names {
		fmt.Printf(" %10s", nm)
	}
	fmt.Println()
	cats := map[string]bool{}
	for _, s := range res["ours"] {
		cats[s.cat] = true
	}
	rate := func(nm string, pred func(sample) bool) (int, int) {
		ok, all := 0, 0
		for _, s := range res[nm] {
			if pred(s) {
				all++
				if s.ok {
					ok++
				}
			}
		}
		return ok, all
	}
	for _, c := range append(append([]string{}, corpus.Categories...), "overall") {
		if c != "overall" && !cats[c] {
			continue
		}
		pred := func(s sample) bool { return s.cat == c }
		if c == "overall" {
			pred = func(s sample) bool { return s.cat != "nocode" }
		}
		_, all := rate("ours", pred)
		fmt.Printf("%-10s %5d", c, all)
		for _, nm := range names {
			ok, all := rate(nm, pred)
			fmt.Printf(" %9.1f%%", 100*float64(ok)/float64(max(all, 1)))
		}
		fmt.Println()
	}
	fmt.Println("(nocode: share of frames correctly reported as having no code; overall excludes nocode)")
	fmt.Println()
}

func printTimes(names []string, res map[string][]sample) {
	fmt.Printf("%-26s", "ms per frame")
	for _, nm := range names {
		fmt.Printf(" %10s", nm)
	}
	fmt.Println()
	for _, size := range []string{"640x480", "1280x720"} {
		for _, row := range []struct {
			label string
			code  bool
			q     float64
		}{{"code median", true, 0.5}, {"code p95", true, 0.95}, {"no code median", false, 0.5}, {"no code p95", false, 0.95}} {
			fmt.Printf("%-26s", size+" "+row.label)
			for _, nm := range names {
				var v []float64
				for _, s := range res[nm] {
					if s.size == size && (s.cat != "nocode") == row.code {
						v = append(v, s.ms)
					}
				}
				fmt.Printf(" %10s", quantile(v, row.q))
			}
			fmt.Println()
		}
	}
	fmt.Println()
}

func quantile(v []float64, q float64) string {
	if len(v) == 0 {
		return "-"
	}
	sort.Float64s(v)
	return fmt.Sprintf("%.1f", v[int(q*float64(len(v)-1)+0.5)])
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

// externalTools returns the installed comparison decoders.
func externalTools() []*tool {
	var tools []*tool
	if p, err := exec.LookPath("ZXingReader"); err == nil {
		tools = append(tools, &tool{name: "zxing-cpp", run: func(path string) (string, bool) {
			out, err := exec.Command(p, "-bytes", "-format", "QRCode", path).Output()
			return string(out), err == nil && len(out) > 0
		}})
	} else {
		fmt.Fprintln(os.Stderr, "ZXingReader not found (apt-get install zxing-cpp-tools); skipping it")
	}
	if p, err := exec.LookPath("zbarimg"); err == nil {
		tools = append(tools, &tool{name: "zbar", run: func(path string) (string, bool) {
			out, err := exec.Command(p, "-q", "--raw", "-Sdisable", "-Sqrcode.enable", path).Output()
			out = bytes.TrimSuffix(out, []byte("\n"))
			return string(out), err == nil && len(out) > 0
		}})
	} else {
		fmt.Fprintln(os.Stderr, "zbarimg not found (apt-get install zbar-tools); skipping it")
	}
	return tools
}

// printTestdata decodes gozxing's testdata photos with our decoder and
// with ZXingReader (one batch call, so its time includes one process start
// spread over all photos).
func printTestdata(tools []*tool) {
	photos, err := corpus.GozxingPhotos()
	if err != nil {
		fmt.Println("gozxing testdata:", err)
		return
	}
	dec := decode.New(decode.Options{Budget: budget})
	defer dec.Close()
	ok := 0
	var total time.Duration
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
		dec.Reset()
		t0 := time.Now()
		g := decode.Gray(img)
		r, err := dec.Decode(g)
		total += time.Since(t0)
		if err == nil && r.Text == p.Text {
			ok++
		}
	}
	fmt.Printf("gozxing testdata photos (qrcode-1, qrcode-6): %d images\n", len(photos))
	fmt.Printf("  ours:      decoded %2d, %.1f ms per image (in-process, after PNG load)\n", ok, ms(total)/float64(len(photos)))
	for _, t := range tools {
		if t.name != "zxing-cpp" {
			continue
		}
		args := []string{"-1", "-escape", "-format", "QRCode"}
		for _, p := range photos {
			args = append(args, p.Path)
		}
		t0 := time.Now()
		out, err := exec.Command("ZXingReader", args...).Output()
		el := time.Since(t0)
		if err != nil {
			fmt.Println("  zxing-cpp:", err)
			continue
		}
		want := map[string]string{}
		for _, p := range photos {
			want[p.Path] = p.Text
		}
		zok := 0
		for _, line := range strings.Split(string(out), "\n") {
			path, text, found := strings.Cut(line, " QRCode ")
			if found && want[path] == unescape(text) {
				zok++
				delete(want, path)
			}
		}
		fmt.Printf("  zxing-cpp: decoded %2d, %.1f ms per image (one batch call incl. PNG load and process start)\n", zok, ms(el)/float64(len(photos)))
	}
}

// unescape undoes ZXingReader's -1 output quoting: the text is in double
// quotes, with control characters written as <CR>, <LF> and the like.
func unescape(s string) string {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "\""), "\"")
	return strings.NewReplacer("<CR>", "\r", "<LF>", "\n", "<HT>", "\t").Replace(s)
}
