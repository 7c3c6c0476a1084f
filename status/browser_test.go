package status

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

// chromium finds Debian's chromium, or the binary named by KIPASS_CHROMIUM.
func chromium() string {
	if p := os.Getenv("KIPASS_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// screenshot loads url in a fresh headless Chromium and returns the PNG's path.
func screenshot(t *testing.T, url string, width, height int) string {
	t.Helper()
	bin := chromium()
	if bin == "" {
		if os.Getenv("KIPASS_BROWSER_REQUIRED") != "" {
			t.Fatal("chromium not found and KIPASS_BROWSER_REQUIRED is set: apt-get install chromium")
		}
		t.Skip("chromium not found (apt-get install chromium); set KIPASS_BROWSER_REQUIRED=1 to make this a failure")
	}
	dir := t.TempDir()
	if keep := os.Getenv("KIPASS_SCREENSHOT_DIR"); keep != "" {
		dir = keep
	}
	out := filepath.Join(dir, "status.png")
	os.Remove(out)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--hide-scrollbars", "--force-device-scale-factor=1", "--user-data-dir="+t.TempDir(),
		"--screenshot="+out, fmt.Sprintf("--window-size=%d,%d", width, height), url)
	cmd.WaitDelay = 5 * time.Second
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, b)
	}
	return out
}

func rgb(hex string) [3]uint8 {
	var r, g, b uint8
	fmt.Sscanf(hex, "#%02x%02x%02x", &r, &g, &b)
	return [3]uint8{r, g, b}
}

// near reports whether the pixel at x, y is within 3 levels of colour want.
func near(img *image.RGBA, x, y int, want [3]uint8) bool {
	i := img.PixOffset(x, y)
	for c := 0; c < 3; c++ {
		d := int(img.Pix[i+c]) - int(want[c])
		if d < -3 || d > 3 {
			return false
		}
	}
	return true
}

// bar is a run of columns filled with one colour.
type bar struct{ x0, x1, top, bottom int }

// bars finds the vertical bars of colour hex: runs of adjacent columns that
// hold the colour, each with the rows its middle column covers.
func bars(img *image.RGBA, hex string) []bar {
	want := rgb(hex)
	b := img.Bounds()
	var out []bar
	in := false
	for x := b.Min.X; x <= b.Max.X; x++ {
		has := false
		if x < b.Max.X {
			for y := b.Min.Y; y < b.Max.Y; y++ {
				if near(img, x, y, want) {
					has = true
					break
				}
			}
		}
		switch {
		case has && !in:
			out = append(out, bar{x0: x})
			in = true
		case !has && in:
			out[len(out)-1].x1 = x
			in = false
		}
	}
	for i := range out {
		mid := (out[i].x0 + out[i].x1) / 2
		out[i].top, out[i].bottom = -1, -1
		for y := b.Min.Y; y < b.Max.Y; y++ {
			if near(img, mid, y, want) {
				if out[i].top < 0 {
					out[i].top = y
				}
				out[i].bottom = y
			}
		}
	}
	return out
}

// TestBrowserScreenshot renders the page in a real headless Chromium and
// checks the screenshot: the state line's colour band, today's chart with
// one bar per busy hour in the right proportions, and the 14-day chart.
func TestBrowserScreenshot(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	srv, err := New(Options{Source: staticSource{testSnapshot()}, Counter: testCounter()})
	if err != nil {
		t.Fatal(err)
	}
	base := serve(t, srv)
	path := screenshot(t, base+"/", 1200, 1600)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	decoded, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	bd := decoded.Bounds()
	img := image.NewRGBA(bd)
	draw.Draw(img, bd, decoded, bd.Min, draw.Src)
	t.Logf("screenshot %s: %dx%d", path, bd.Dx(), bd.Dy())

	// Not blank: many pixels differ from the page background.
	colours := map[color.RGBA]int{}
	stateRows := map[int]int{}
	green := rgb(StateColour[Scanning])
	for y := bd.Min.Y; y < bd.Max.Y; y += 2 {
		for x := bd.Min.X; x < bd.Max.X; x += 2 {
			i := img.PixOffset(x, y)
			colours[color.RGBA{img.Pix[i], img.Pix[i+1], img.Pix[i+2], 255}]++
			if near(img, x, y, green) {
				stateRows[y]++
			}
		}
	}
	if len(colours) < 20 {
		t.Fatalf("the page looks blank: %d colours", len(colours))
	}
	// The state line: a band of the "scanning" green at least 60 px tall
	// and most of the width, in the top quarter.
	band := 0
	for y, n := range stateRows {
		if n > bd.Dx()/2/2 && y < bd.Dy()/4 {
			band += 2
		}
	}
	if band < 60 {
		t.Fatalf("state line band: %d rows of %s in the top quarter, want ≥ 60", band, StateColour[Scanning])
	}

	// Today's chart: one bar per busy hour, left to right, heights in
	// proportion to the counts.
	today, err := Summarize(testCounter(), testNow, KST, Days)
	if err != nil {
		t.Fatal(err)
	}
	var want []int
	for _, n := range today.Hours {
		if n > 0 {
			want = append(want, n)
		}
	}
	got := bars(img, HourBarColour)
	if len(got) != len(want) {
		t.Fatalf("today's chart: %d bars of %s in the screenshot, want %d: %+v", len(got), HourBarColour, len(want), got)
	}
	maxH, maxV := 0, 0
	for i, b := range got {
		maxH, maxV = maxInt(maxH, b.bottom-b.top+1), maxInt(maxV, want[i])
	}
	scale := float64(maxH) / float64(maxV) // px per visitor, from the tallest bar
	for i, b := range got {
		h := b.bottom - b.top + 1
		exp := scale * float64(want[i])
		if d := float64(h) - exp; d < -3 || d > 3 {
			t.Errorf("bar %d: %d px tall, want %.0f (count %d)", i, h, exp, want[i])
		}
		if i > 0 && b.x0 <= got[i-1].x1 {
			t.Errorf("bars %d and %d overlap", i-1, i)
		}
	}
	bottoms := map[int]bool{}
	for _, b := range got {
		bottoms[b.bottom] = true
	}
	if len(bottoms) != 1 {
		t.Errorf("today's bars do not stand on one baseline: %v", bottoms)
	}

	// The 14-day chart below it: one bar per day with visitors.
	days := bars(img, DayBarColour)
	if len(days) != Days {
		t.Fatalf("14-day chart: %d bars of %s, want %d", len(days), DayBarColour, Days)
	}
	sort.Slice(days, func(i, j int) bool { return days[i].x0 < days[j].x0 })
	if days[0].top <= got[0].bottom {
		t.Errorf("the 14-day chart (top %d) is not below today's chart (baseline %d)", days[0].top, got[0].bottom)
	}
	// Per-device mini charts: the busiest device has today's busy hours.
	if mini := bars(img, DeviceBarColour); len(mini) < len(want)-1 {
		t.Errorf("per-device charts: %d bars of %s", len(mini), DeviceBarColour)
	}
}

// TestBrowserProblemState renders the English page of a device whose
// camera delivers nothing: the state band turns red.
func TestBrowserProblemState(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	snap := testSnapshot()
	snap.Camera = Camera{State: "no_frames", Problem: "no frame for 42s"}
	srv, err := New(Options{Source: staticSource{snap}, Counter: testCounter()})
	if err != nil {
		t.Fatal(err)
	}
	path := screenshot(t, serve(t, srv)+"/?lang=en", 1200, 900)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	decoded, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	bd := decoded.Bounds()
	img := image.NewRGBA(bd)
	draw.Draw(img, bd, decoded, bd.Min, draw.Src)
	red, green := rgb(StateColour[CameraProblem]), rgb(StateColour[Scanning])
	reds, greens := 0, 0
	for y := bd.Min.Y; y < bd.Max.Y/4; y++ {
		for x := bd.Min.X; x < bd.Max.X; x++ {
			if near(img, x, y, red) {
				reds++
			}
			if near(img, x, y, green) {
				greens++
			}
		}
	}
	if reds < bd.Dx()/2*60 || greens > 0 {
		t.Fatalf("state band: %d red and %d green pixels in the top quarter", reds, greens)
	}
	if len(bars(img, HourBarColour)) == 0 {
		t.Fatal("today's chart is missing from the screenshot")
	}
}
