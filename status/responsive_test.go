package status

import (
	"context"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// dumpDOM loads url in headless Chromium and returns the DOM it built.
func dumpDOM(t *testing.T, url string, width, height int) string {
	t.Helper()
	bin := chromium()
	if bin == "" {
		if os.Getenv("KIPASS_BROWSER_REQUIRED") != "" {
			t.Fatal("chromium not found and KIPASS_BROWSER_REQUIRED is set: apt-get install chromium")
		}
		t.Skip("chromium not found (apt-get install chromium); set KIPASS_BROWSER_REQUIRED=1 to make this a failure")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--user-data-dir="+t.TempDir(),
		fmt.Sprintf("--window-size=%d,%d", width, height), "--dump-dom", url)
	cmd.WaitDelay = 5 * time.Second
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v", err)
	}
	return string(b)
}

// TestBrowserFitsScreens renders the page in headless Chromium at a
// portrait tablet, a landscape tablet, a desktop and a phone: the page
// never scrolls sideways (the right edge shows the page's background,
// not a cut-off card), today's chart shows every busy hour including the
// last one of the day, and its axis labels every hour 0–23.
func TestBrowserFitsScreens(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	counts := testCounter()
	today := time.Date(testNow.Year(), testNow.Month(), testNow.Day(), 0, 0, 0, 0, KST)
	counts = append(counts, HourCount{Hour: today.Add(23 * time.Hour), Device: "gate-back-1", Count: 6})
	snap := testSnapshot()
	snap.At = today.Add(23*time.Hour + 30*time.Minute)
	srv, err := New(Options{Source: staticSource{snap}, Counter: counts})
	if err != nil {
		t.Fatal(err)
	}
	base := serve(t, srv)
	sum, _ := Summarize(counts, snap.At, KST, Days)
	busy := 0
	for _, n := range sum.Hours {
		if n > 0 {
			busy++
		}
	}
	bg := rgb("#f3f4f6")
	for _, size := range [][2]int{{800, 1280}, {1024, 768}, {1920, 1080}, {360, 1600}} {
		w, h := size[0], size[1]
		t.Run(fmt.Sprintf("%dx%d", w, h), func(t *testing.T) {
			f, err := os.Open(screenshot(t, base+"/", w, h))
			if err != nil {
				t.Fatal(err)
			}
			decoded, err := png.Decode(f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			bd := decoded.Bounds()
			img := image.NewRGBA(bd)
			draw.Draw(img, bd, decoded, bd.Min, draw.Src)
			// No sideways scrolling: the rightmost column is background
			// wherever there is a card below the header.
			for y := bd.Dy() / 8; y < bd.Dy(); y++ {
				if !near(img, bd.Max.X-1, y, bg) && !near(img, bd.Max.X-1, y, rgb("#ffffff")) {
					continue // the state band's colour: checked below
				}
				if near(img, bd.Max.X-1, y, rgb("#ffffff")) {
					t.Fatalf("a card runs off the right edge at row %d: the page scrolls sideways", y)
				}
			}
			for y := 0; y < bd.Dy(); y++ {
				if near(img, bd.Max.X-1, y, rgb(StateColour[Scanning])) {
					t.Fatalf("the state band runs off the right edge at row %d", y)
				}
			}
			got := bars(img, HourBarColour)
			if len(got) != busy {
				t.Fatalf("today's chart: %d bars visible, want %d (every busy hour, 23 h included): %+v", len(got), busy, got)
			}
			if last := got[len(got)-1]; last.x1 >= bd.Max.X-2 || last.bottom >= bd.Max.Y-2 {
				t.Fatalf("today's 23 h bar is cut off: %+v in %v", last, bd)
			}
		})
	}
	dom := dumpDOM(t, base+"/", 800, 1280)
	i := strings.Index(dom, `id="today"`)
	j := strings.Index(dom, `id="days"`)
	if i < 0 || j < i {
		t.Fatal("today's chart is missing from the DOM")
	}
	labels := regexp.MustCompile(`<text[^>]*fill="#374151"[^>]*>([0-9]+)</text>`).FindAllStringSubmatch(dom[i:j], -1)
	if len(labels) != 24 {
		t.Fatalf("today's chart labels %d hours, want 24: %v", len(labels), labels)
	}
	for h, l := range labels {
		if l[1] != fmt.Sprint(h) {
			t.Fatalf("hour label %d reads %q", h, l[1])
		}
	}
}
