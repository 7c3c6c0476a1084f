package status

import (
	"encoding/json"
	"image"
	"image/draw"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kipass/kipass/clock"
	"github.com/kipass/kipass/ledger"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// paperLedger is the page's ledger over a real ledger.Book and real
// control codes; its paper visits are kept as hourly counts.
type paperLedger struct {
	clk   clock.Clock
	book  *ledger.Book
	codes *ledger.Codes
	mu    sync.Mutex
	paper listCounter
}

func newPaperLedger(t *testing.T, clk clock.Clock) *paperLedger {
	t.Helper()
	dir := t.TempDir()
	book, err := ledger.OpenBook(filepath.Join(dir, "ledger.json"), clk)
	if err != nil {
		t.Fatal(err)
	}
	codes, err := ledger.OpenCodes(filepath.Join(dir, "ledger.key"), "FAC-1", "gate-front-1")
	if err != nil {
		t.Fatal(err)
	}
	return &paperLedger{clk: clk, book: book, codes: codes}
}

func (p *paperLedger) AddPaper(n int) error {
	p.mu.Lock()
	p.paper = append(p.paper, HourCount{Hour: p.clk.Now().Truncate(time.Hour), Device: "gate-front-1", Count: n})
	p.mu.Unlock()
	return p.book.Entry(n)
}
func (p *paperLedger) StartSheet(date string) (ledger.Sheet, error) { return p.book.Start(date) }
func (p *paperLedger) Shredded(date string) (ledger.Sheet, error)   { return p.book.Shredded(date) }
func (p *paperLedger) ControlCodes() map[ledger.Action]string {
	return map[ledger.Action]string{ledger.Paper: p.codes.Make(ledger.Paper), ledger.NoPhone: p.codes.Make(ledger.NoPhone)}
}
func (p *paperLedger) HourlyCounts(from, to time.Time) ([]HourCount, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.paper.HourlyCounts(from, to)
}

// ledgerSource is the snapshot of a device with that ledger, on clk.
type ledgerSource struct {
	clk clock.Clock
	l   *paperLedger
}

func (s ledgerSource) Snapshot() Snapshot {
	snap := testSnapshot()
	snap.At = s.clk.Now()
	snap.Ledger = &Ledger{Sheets: s.l.book.Sheets(), Due: len(s.l.book.Due()), Today: s.l.book.Today()}
	return snap
}

func pageBody(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	return string(b)
}

// The warning band appears on the day a sheet is due (4 weeks after its
// last entry), not the day before, on a fake clock; the shredding
// confirmation with the PIN ends it.
func TestLedgerDueWarningOnItsDay(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 10, 1, 9, 0, 0, 0, KST))
	l := newPaperLedger(t, clk)
	srv, err := New(Options{Source: ledgerSource{clk, l}, Counter: testCounter(), Paper: l, Ledger: l, PIN: "246813", Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	base := serve(t, srv)
	post := func(path string, form url.Values) int {
		t.Helper()
		resp, err := http.PostForm(base+path, form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	postNoRedirect := func(path string, form url.Values) (int, string) {
		t.Helper()
		resp, err := c.PostForm(base+path, form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Location")
	}
	if code, loc := postNoRedirect("/settings/ledger/sheet", url.Values{"pin": {"246813"}, "date": {""}}); code != 303 || !strings.Contains(loc, "ledger=ledger.started") {
		t.Fatalf("start sheet: %d %s", code, loc)
	}
	clk.Set(time.Date(2026, 10, 3, 18, 0, 0, 0, KST))
	if code, _ := postNoRedirect("/settings/ledger/paper", url.Values{"pin": {"246813"}, "n": {"2"}}); code != 303 {
		t.Fatalf("add paper: %d", code)
	}
	page := pageBody(t, base+"/")
	if strings.Contains(page, `id="ledger-due"`) || !strings.Contains(page, "2026-10-31") || !strings.Contains(page, "QR 0명 · 수기 2명") {
		t.Fatalf("after the entry: band or destroy date wrong:\n%s", page)
	}
	clk.Set(time.Date(2026, 10, 30, 23, 59, 0, 0, KST))
	if page := pageBody(t, base+"/"); strings.Contains(page, `id="ledger-due"`) {
		t.Fatal("warning band a day early")
	}
	clk.Set(time.Date(2026, 10, 31, 0, 0, 1, 0, KST))
	page = pageBody(t, base+"/?lang=en")
	if !strings.Contains(page, `id="ledger-due"`) || !strings.Contains(page, "Sheet of 2026-10-01: destroy by 2026-10-31") {
		t.Fatalf("no warning band on the day it is due:\n%s", page)
	}
	// Shredding needs the PIN; a wrong one is refused.
	if code := post("/settings/ledger/shredded", url.Values{"pin": {"1111"}, "date": {"2026-10-01"}}); code != 403 {
		t.Fatalf("shredded with a wrong PIN: %d", code)
	}
	if len(l.book.Due()) != 1 {
		t.Fatal("a wrong PIN confirmed the shredding")
	}
	if code, _ := postNoRedirect("/settings/ledger/shredded", url.Values{"pin": {"246813"}, "date": {"2026-10-01"}}); code != 303 {
		t.Fatalf("shredded: %d", code)
	}
	if page := pageBody(t, base+"/"); strings.Contains(page, `id="ledger-due"`) || !strings.Contains(page, "파쇄 완료") {
		t.Fatal("the band stayed after shredding")
	}
}

// The CLI's API needs the PIN in a header, so a cross-site form cannot
// add paper visits.
func TestLedgerAPINeedsThePIN(t *testing.T) {
	clk := clock.NewFake(testNow)
	l := newPaperLedger(t, clk)
	srv, err := New(Options{Source: ledgerSource{clk, l}, Paper: l, Ledger: l, PIN: "246813", Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	base := serve(t, srv)
	do := func(pin, body string) (int, LedgerReport) {
		t.Helper()
		req, _ := http.NewRequest("POST", base+"/api/ledger/paper", strings.NewReader(body))
		if pin != "" {
			req.Header.Set(PINHeader, pin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var rep LedgerReport
		json.NewDecoder(resp.Body).Decode(&rep)
		return resp.StatusCode, rep
	}
	if code, _ := do("", `{"n":1}`); code != 403 {
		t.Fatalf("no PIN: %d", code)
	}
	if code, _ := do("9999", `{"n":1}`); code != 403 {
		t.Fatalf("wrong PIN: %d", code)
	}
	if code, _ := do("246813", `{"n":51}`); code != 200 {
		// the page's ledger accepts any n; the agent caps it (tested there)
		t.Logf("n=51: %d", code)
	}
	code, rep := do("246813", `{"n":2}`)
	if code != 200 || rep.Added != 2 || rep.Paper.TodayTotal() < 2 {
		t.Fatalf("right PIN: %d %+v", code, rep)
	}
	if code, _ := do("246813", `{"n":1,"name":"홍길동"}`); code != 400 {
		t.Fatalf("a field naming a person was accepted: %d", code)
	}
	// The codes page needs an unlocked settings session.
	resp, err := http.Get(base + "/settings/ledger/codes")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("codes without the PIN: %d", resp.StatusCode)
	}
}

// TestBrowserPaperSeries renders the page of a device with QR and paper
// visits and a sheet due today in headless Chromium: today's QR bars, the
// paper bars (today by hour and 14 days), and the warning band.
//
//	KIPASS_BROWSER_REQUIRED=1 KIPASS_SCREENSHOT_DIR=/tmp/shots go test ./status -run TestBrowserPaperSeries -count=1 -v
//
// leaves /tmp/shots/status-ledger.png.
func TestBrowserPaperSeries(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	today := time.Date(testNow.Year(), testNow.Month(), testNow.Day(), 0, 0, 0, 0, KST)
	clk := clock.NewFake(today.AddDate(0, 0, -30).Add(10 * time.Hour))
	l := newPaperLedger(t, clk)
	if _, err := l.book.Start(""); err != nil {
		t.Fatal(err)
	}
	l.AddPaper(1) // due today: 28 days after this entry... plus two
	clk.Set(today.AddDate(0, 0, -28).Add(9 * time.Hour))
	l.AddPaper(1)
	clk.Set(today.AddDate(0, 0, -3).Add(9 * time.Hour))
	l.StartSheet("")
	l.AddPaper(2)
	paperHours := map[int]int{9: 2, 11: 1, 14: 3}
	for h, n := range paperHours {
		clk.Set(today.Add(time.Duration(h)*time.Hour + 5*time.Minute))
		l.AddPaper(n)
	}
	clk.Set(testNow)
	srv, err := New(Options{Source: ledgerSource{clk, l}, Counter: testCounter(), Paper: l, Ledger: l, PIN: "246813", Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if keep := os.Getenv("KIPASS_SCREENSHOT_DIR"); keep != "" {
		os.MkdirAll(keep, 0o755)
	}
	path := screenshot(t, serve(t, srv)+"/", 1200, 2600)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if keep := os.Getenv("KIPASS_SCREENSHOT_DIR"); keep != "" {
		path = filepath.Join(keep, "status-ledger.png")
		os.WriteFile(path, data, 0o644)
	}
	decoded, err := png.Decode(strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	bd := decoded.Bounds()
	img := image.NewRGBA(bd)
	draw.Draw(img, bd, decoded, bd.Min, draw.Src)
	t.Logf("screenshot %s: %dx%d", path, bd.Dx(), bd.Dy())

	qrToday, err := Summarize(testCounter(), testNow, KST, Days)
	if err != nil {
		t.Fatal(err)
	}
	busy := 0
	for _, n := range qrToday.Hours {
		if n > 0 {
			busy++
		}
	}
	qr := bars(img, HourBarColour)
	if len(qr) != busy {
		t.Fatalf("QR chart: %d bars, want %d", len(qr), busy)
	}
	// Paper bars: today's busy hours, then the days with paper visits
	// (two sheets' days: -30 is outside the 14 days, -3 and today inside).
	paper := bars(img, PaperBarColour)
	if want := len(paperHours) + 2; len(paper) != want {
		t.Fatalf("paper charts: %d bars of %s, want %d: %+v", len(paper), PaperBarColour, want, paper)
	}
	// The paper charts stand below today's QR chart.
	for _, p := range paper {
		if p.top <= qr[0].bottom {
			t.Errorf("a paper bar (top %d) is not below the QR chart (baseline %d)", p.top, qr[0].bottom)
		}
	}
	// The warning band: rows of LedgerDueColour across most of the width
	// in the top third, under the green state line.
	band := 0
	due := rgb(LedgerDueColour)
	for y := bd.Min.Y; y < bd.Max.Y/3; y++ {
		n := 0
		for x := bd.Min.X; x < bd.Max.X; x += 4 {
			if near(img, x, y, due) {
				n++
			}
		}
		if n > bd.Dx()/4/2 {
			band++
		}
	}
	if band < 40 {
		t.Fatalf("warning band: %d rows of %s in the top third, want ≥ 40", band, LedgerDueColour)
	}
}

// The paper ledger's gauges on /metrics follow a real book on a fake
// clock: open sheets, paper visits on them, and sheets due for shredding
// (an integrator alerts on that one), none left after the shredding.
func TestLedgerMetrics(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 10, 1, 9, 0, 0, 0, KST))
	l := newPaperLedger(t, clk)
	src := ledgerSource{clk, l}
	m := NewMetrics(src)
	gauges := func() map[string]float64 {
		t.Helper()
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		p := expfmt.NewTextParser(model.LegacyValidation)
		fams, err := p.TextToMetricFamilies(rec.Body)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, n := range []string{"kipass_ledger_sheets_open", "kipass_ledger_sheets_due", "kipass_ledger_paper_visits"} {
			f, ok := fams[n]
			if !ok {
				t.Fatalf("%s missing", n)
			}
			out[n] = f.Metric[0].Gauge.GetValue()
		}
		return out
	}
	first := l.book.Today()
	if _, err := l.StartSheet(first); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{3, 2} {
		if err := l.AddPaper(n); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(24 * time.Hour)
	if _, err := l.StartSheet(l.book.Today()); err != nil {
		t.Fatal(err)
	}
	if err := l.AddPaper(4); err != nil {
		t.Fatal(err)
	}
	if g := gauges(); g["kipass_ledger_sheets_open"] != 2 || g["kipass_ledger_paper_visits"] != 9 || g["kipass_ledger_sheets_due"] != 0 {
		t.Fatalf("two open sheets with 5 and 4 visits, none due: %v", g)
	}
	clk.Advance(27 * 24 * time.Hour) // the first sheet's day: 4 weeks after its last entry
	if g := gauges(); g["kipass_ledger_sheets_due"] != 1 {
		t.Fatalf("the first sheet is due today: %v", g)
	}
	if _, err := l.Shredded(first); err != nil {
		t.Fatal(err)
	}
	if g := gauges(); g["kipass_ledger_sheets_open"] != 1 || g["kipass_ledger_paper_visits"] != 4 || g["kipass_ledger_sheets_due"] != 0 {
		t.Fatalf("after the first sheet's shredding: %v", g)
	}
}
