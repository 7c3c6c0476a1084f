package status

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kipass/kipass/clock"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// staticSource serves a fixed snapshot: the page's input as test data.
type staticSource struct{ s Snapshot }

func (s staticSource) Snapshot() Snapshot { return s.s }

// listCounter holds hourly counts as test data.
type listCounter []HourCount

func (l listCounter) HourlyCounts(from, to time.Time) ([]HourCount, error) {
	var out []HourCount
	for _, h := range l {
		if !h.Hour.Before(from) && h.Hour.Before(to) {
			out = append(out, h)
		}
	}
	return out, nil
}

var testNow = time.Date(2026, 11, 22, 15, 30, 0, 0, KST)

func testSnapshot() Snapshot {
	return Snapshot{
		At: testNow, Facility: "FAC-1", Device: "gate-front-1", Entrance: "정문", Started: testNow.Add(-8 * time.Hour),
		Scans:  map[string]int64{"verified": 41, "pending": 2, "invalid": 3, "expired": 5},
		Queue:  Queue{Depth: 7, OldestEnqueued: testNow.Add(-90 * time.Second), Dead: 1},
		Uplink: Uplink{LastUpload: testNow.Add(-2 * time.Minute), LastAttempt: testNow.Add(-time.Second), Errors: 4, Acknowledged: 36},
		Camera: Camera{State: "ok", LastFrame: testNow, Frames: 12345},
		Clock:  Clock{Known: true, Offset: 300 * time.Millisecond},
	}
}

// testHours are the visitors by hour today (device gate-front-1), plus a
// second device and earlier days.
var testHours = map[int]int{8: 3, 9: 12, 10: 7, 12: 20, 13: 9, 15: 4}

func testCounter() listCounter {
	today := time.Date(testNow.Year(), testNow.Month(), testNow.Day(), 0, 0, 0, 0, KST)
	var l listCounter
	for h, n := range testHours {
		l = append(l, HourCount{Hour: today.Add(time.Duration(h) * time.Hour), Device: "gate-front-1", Count: n})
	}
	l = append(l, HourCount{Hour: today.Add(11 * time.Hour), Device: "gate-back-1", Count: 2})
	for d := 1; d < 16; d++ {
		l = append(l, HourCount{Hour: today.AddDate(0, 0, -d).Add(10 * time.Hour), Device: "gate-front-1", Count: 10 + d})
	}
	return l
}

func TestSummarize(t *testing.T) {
	c, err := Summarize(testCounter(), testNow, KST, Days)
	if err != nil {
		t.Fatal(err)
	}
	for h := 0; h < 24; h++ {
		want := testHours[h]
		if h == 11 {
			want += 2
		}
		if c.Hours[h] != want {
			t.Errorf("hour %d: %d, want %d", h, c.Hours[h], want)
		}
	}
	if len(c.Days) != Days || !c.Days[Days-1].Day.Equal(c.Today) {
		t.Fatalf("days = %+v", c.Days)
	}
	// Day -13 is the oldest shown (count 23); day -14 and -15 are dropped.
	if c.Days[0].Count != 10+13 || c.Days[Days-2].Count != 11 || c.Days[Days-1].Count != c.TodayTotal() {
		t.Fatalf("days = %+v", c.Days)
	}
	if len(c.Devices) != 2 || c.Devices[0].Device != "gate-back-1" || c.Devices[0].TodayTotal() != 2 ||
		c.Devices[1].TodayTotal() != 55 || c.Devices[1].DaysTotal() != 55+(11+23)*13/2 {
		t.Fatalf("devices = %+v", c.Devices)
	}
}

func TestStateLine(t *testing.T) {
	s := testSnapshot()
	if s.State() != Scanning {
		t.Fatalf("state = %s", s.State())
	}
	s.Queue.OldestEnqueued = s.At.Add(-Offline - time.Second)
	if s.State() != OfflineRecording {
		t.Fatalf("old queue: state = %s", s.State())
	}
	s.Camera.Problem = "no frames for 30 s"
	if s.State() != CameraProblem {
		t.Fatalf("state = %s", s.State())
	}
	s.Clock.Problem = "12 min behind central"
	if s.State() != ClockProblem {
		t.Fatalf("state = %s", s.State())
	}
	s.Storage.Problem = "queue full"
	if s.State() != StorageProblem {
		t.Fatalf("state = %s", s.State())
	}
}

// serve runs srv on a loopback port and returns its base URL.
func serve(t *testing.T, srv *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

func get(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestMetricsScrapedAndParsed(t *testing.T) {
	src := staticSource{testSnapshot()}
	m := NewMetrics(src)
	for _, ms := range []int{2, 3, 40, 700} {
		m.ObserveDecode(time.Duration(ms) * time.Millisecond)
	}
	srv, err := New(Options{Source: src, Metrics: m, Counter: testCounter()})
	if err != nil {
		t.Fatal(err)
	}
	base := serve(t, srv)
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("the Prometheus text parser refused /metrics: %v", err)
	}
	value := func(name string, labels ...string) float64 {
		t.Helper()
		f, ok := fams[name]
		if !ok {
			t.Fatalf("metric %s missing", name)
		}
	next:
		for _, mt := range f.Metric {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range mt.Label {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				return mt.Counter.GetValue()
			case dto.MetricType_GAUGE:
				return mt.Gauge.GetValue()
			}
		}
		t.Fatalf("metric %s%v missing", name, labels)
		return 0
	}
	snap := src.s
	for v, n := range snap.Scans {
		if got := value("kipass_scans_total", "verdict", v); got != float64(n) {
			t.Errorf("scans_total{verdict=%q} = %v, want %d", v, got, n)
		}
	}
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"kipass_queue_depth", nil, 7},
		{"kipass_queue_oldest_unsent_seconds", nil, 90},
		{"kipass_queue_dead_letters", nil, 1},
		{"kipass_uplink_errors_total", nil, 4},
		{"kipass_uplink_acknowledged_total", nil, 36},
		{"kipass_uplink_last_upload_timestamp_seconds", nil, float64(snap.Uplink.LastUpload.Unix())},
		{"kipass_camera_state", []string{"state", "ok"}, 1},
		{"kipass_camera_state", []string{"state", "no_frames"}, 0},
		{"kipass_clock_offset_seconds", nil, 0.3},
		{"kipass_state", []string{"state", "scanning"}, 1},
		{"kipass_state", []string{"state", "camera_problem"}, 0},
	}
	for _, c := range checks {
		if got := value(c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	h := fams["kipass_decode_duration_seconds"]
	if h == nil || h.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("decode histogram missing: %v", h)
	}
	hist := h.Metric[0].Histogram
	if hist.GetSampleCount() != 4 || hist.GetSampleSum() < 0.744 || hist.GetSampleSum() > 0.746 {
		t.Fatalf("decode histogram count %d sum %v", hist.GetSampleCount(), hist.GetSampleSum())
	}
	for _, b := range hist.Bucket {
		if b.GetUpperBound() == 0.004 && b.GetCumulativeCount() != 2 {
			t.Errorf("bucket le=0.004 has %d, want 2", b.GetCumulativeCount())
		}
	}
	for name := range fams {
		if !model.IsValidLegacyMetricName(name) {
			t.Errorf("metric name %q is not a valid Prometheus name", name)
		}
	}
}

func TestHealthzAndAPI(t *testing.T) {
	snap := testSnapshot()
	srv, err := New(Options{Source: staticSource{snap}, Counter: testCounter()})
	if err != nil {
		t.Fatal(err)
	}
	base := serve(t, srv)
	if code, body := get(t, http.DefaultClient, base+"/healthz"); code != 200 || !strings.Contains(body, `"scanning"`) {
		t.Fatalf("healthz: %d %s", code, body)
	}
	if code, body := get(t, http.DefaultClient, base+"/api/status"); code != 200 || !strings.Contains(body, `"depth": 7`) {
		t.Fatalf("api/status: %d %s", code, body)
	}
	if code, body := get(t, http.DefaultClient, base+"/api/counts?days=3"); code != 200 || !strings.Contains(body, `"gate-back-1"`) {
		t.Fatalf("api/counts: %d %s", code, body)
	}
	if code, _ := get(t, http.DefaultClient, base+"/api/counts?days=x"); code != 400 {
		t.Fatalf("api/counts?days=x: %d", code)
	}
	snap.Storage.Problem = "queue full"
	srv2, _ := New(Options{Source: staticSource{snap}})
	if code, body := get(t, http.DefaultClient, serve(t, srv2)+"/healthz"); code != 503 || !strings.Contains(body, "storage_problem") {
		t.Fatalf("healthz with a storage problem: %d %s", code, body)
	}
}

func TestPageLanguagesAndHostCheck(t *testing.T) {
	srv, err := New(Options{Source: staticSource{testSnapshot()}, Counter: testCounter()})
	if err != nil {
		t.Fatal(err)
	}
	base := serve(t, srv)
	_, ko := get(t, http.DefaultClient, base+"/")
	_, en := get(t, http.DefaultClient, base+"/?lang=en")
	for _, c := range []struct{ page, want string }{
		{ko, "정상 작동 중"}, {ko, "오늘 시간대별 방문자"}, {ko, `lang="ko"`}, {ko, HourBarColour}, {ko, DayBarColour},
		{ko, "gate-back-1"}, {ko, "1분 30초"},
		{en, "Scanning"}, {en, "Visitors today by hour"}, {en, `lang="en"`}, {en, "1 min 30 s"}, {en, "2 min 0 s ago"},
	} {
		if !strings.Contains(c.page, c.want) {
			t.Errorf("page lacks %q", c.want)
		}
	}
	if strings.Contains(ko, "<script") || strings.Contains(en, "<script") {
		t.Error("the page carries a script")
	}
	req, _ := http.NewRequest("GET", base+"/", nil)
	req.Host = "kipass.example.com"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Fatalf("foreign Host header: %s", resp.Status)
	}
}

func TestSettingsBehindPIN(t *testing.T) {
	dir := t.TempDir()
	pinFile := filepath.Join(dir, "pin")
	os.WriteFile(pinFile, []byte("482913\n"), 0o600)
	pin, err := LoadPIN(pinFile)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "badpin"), []byte("12a4"), 0o600)
	if _, err := LoadPIN(filepath.Join(dir, "badpin")); err == nil {
		t.Fatal("a PIN with a letter was accepted")
	}
	fc := clock.NewFake(testNow)
	store := FileSettings{Path: filepath.Join(dir, "settings.json")}
	srv, err := New(Options{Source: staticSource{testSnapshot()}, Settings: store, PIN: pin, Clock: fc})
	if err != nil {
		t.Fatal(err)
	}
	base := serve(t, srv)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	post := func(path string, form url.Values) (int, string) {
		t.Helper()
		resp, err := c.PostForm(base+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	save := url.Values{"language": {"en"}, "volume": {"40"}, "quiet_hours": {"22:00-07:00"}, "tones": {"1"}}
	if code, _ := post("/settings", save); code != 403 {
		t.Fatalf("save without the PIN: %d", code)
	}
	if _, err := os.Stat(store.Path); err == nil {
		t.Fatal("settings were saved without the PIN")
	}
	if code, body := post("/settings/login", url.Values{"pin": {"000000"}}); code != 403 || !strings.Contains(body, "PIN이 틀렸습니다") {
		t.Fatalf("wrong PIN: %d", code)
	}
	if code, body := post("/settings/login", url.Values{"pin": {pin}}); code != 200 || !strings.Contains(body, `name="quiet_hours"`) {
		t.Fatalf("right PIN: %d %s", code, body)
	}
	// A cross-site form post carries a foreign Origin: refused.
	req, _ := http.NewRequest("POST", base+"/settings", strings.NewReader(save.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://evil.example")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("cross-origin save: %s", resp.Status)
	}
	if code, body := post("/settings", url.Values{"volume": {"40"}, "quiet_hours": {"25:00-07:00"}}); code != 400 || !strings.Contains(body, "quiet hours") {
		t.Fatalf("bad quiet hours: %d", code)
	}
	if code, body := post("/settings", save); code != 200 || !strings.Contains(body, "저장했습니다") {
		t.Fatalf("save: %d", code)
	}
	got, err := store.Load()
	if err != nil || got != (Settings{Language: "en", Volume: 0.4, QuietHours: "22:00-07:00", Tones: true}) {
		t.Fatalf("saved settings = %+v, %v", got, err)
	}
	if _, page := get(t, c, base+"/"); !strings.Contains(page, `lang="en"`) {
		t.Fatal("the saved page language was not applied")
	}
	// The session expires when idle.
	fc.Advance(SessionIdle + time.Second)
	if code, _ := post("/settings", save); code != 403 {
		t.Fatalf("save after the session expired: %d", code)
	}
	// Five wrong PINs lock the settings, even against the right PIN.
	for i := 0; i < MaxPINFailures; i++ {
		post("/settings/login", url.Values{"pin": {"1111"}})
	}
	if code, body := post("/settings/login", url.Values{"pin": {pin}}); code != 403 || !strings.Contains(body, "locked") && !strings.Contains(body, "잠겼") {
		t.Fatalf("locked: %d", code)
	}
	fc.Advance(PINLockout)
	if code, _ := post("/settings/login", url.Values{"pin": {pin}}); code != 200 {
		t.Fatalf("after the lockout: %d", code)
	}
}

func TestChartScale(t *testing.T) {
	for _, c := range []struct{ in, want int }{{0, 4}, {3, 4}, {5, 8}, {20, 20}, {21, 40}, {30, 40}, {160, 200}, {999, 2000}} {
		if got := niceMax(c.in); got != c.want {
			t.Errorf("niceMax(%d) = %d, want %d", c.in, got, c.want)
		}
	}
}
