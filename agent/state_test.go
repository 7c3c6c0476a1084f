package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kipass/kipass/camera"
	"github.com/kipass/kipass/central"
	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/clock"
	"github.com/kipass/kipass/logging"
	"github.com/kipass/kipass/queue"
	"github.com/kipass/kipass/screen"
	"github.com/kipass/kipass/status"
	"github.com/kipass/kipass/token"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// syncBuffer is a log sink safe for the agent's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestStatusOfRunningAgent runs a real agent (image folder source, real
// decoder, verifier, queue file and a real central on loopback) with its
// status page on a loopback port, then reads every page, the API and the
// metrics: the counts match what happened, and no token, token fragment
// or scan id appears in any of them, nor in the logs.
func TestStatusOfRunningAgent(t *testing.T) {
	const visitors = 4
	dir := t.TempDir()
	clk := clock.NewSlowed(10) // see demo.TestRunEndToEnd
	key, err := token.GenerateKey("dev")
	if err != nil {
		t.Fatal(err)
	}
	keys := token.NewKeySet(key.Public())
	keysFile := filepath.Join(dir, "keys.json")
	if b, err := json.Marshal(keys); err != nil {
		t.Fatal(err)
	} else if err := os.WriteFile(keysFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	// Central runs on the agent's slowed clock, as in the demo, so the
	// learned offset stays near zero and no clock alarm is raised.
	cs, err := central.Open(filepath.Join(dir, "central.db"), central.Options{Keys: keys, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	hs := httptest.NewServer(cs.Handler())
	defer hs.Close()

	// Frames: each visitor's code on a phone screen, a blank between, and
	// one expired token.
	var texts []string
	for i := 0; i < visitors; i++ {
		tok, err := token.Signer{Key: key}.Issue(clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		texts = append(texts, tok)
	}
	expired, _ := token.Signer{Key: key}.Issue(clk.Now().Add(-time.Minute))
	texts = append(texts, expired)
	var frames []*image.Gray
	so := screen.Options{Width: 640, Height: 480}
	for _, text := range texts {
		img, err := screen.Render(text, so)
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, img, img, screen.Blank(so))
	}
	if err := camera.WriteFolder(filepath.Join(dir, "frames"), frames); err != nil {
		t.Fatal(err)
	}
	pinFile := filepath.Join(dir, "pin")
	os.WriteFile(pinFile, []byte("246813\n"), 0o600)

	cfg := Config{Facility: "FAC-T", Device: "gate-t", Entrance: "정문", Source: "folder:" + filepath.Join(dir, "frames"),
		DataDir: filepath.Join(dir, "agent"), CentralURL: hs.URL, KeysFile: keysFile, Audio: AudioConfig{Device: "none"}}
	cfg.SetDefaults()
	cfg.Status = StatusConfig{Listen: "127.0.0.1:0", PINFile: pinFile, Language: "ko"}
	logs := &syncBuffer{}
	ended := make(chan struct{})
	var once sync.Once
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, err := Open(ctx, cfg, logging.New(logs, "debug"), Hooks{Clock: clk, OnSourceEnd: func() { once.Do(func() { close(ended) }) }, FolderOnce: true})
	if err != nil {
		t.Fatal(err)
	}
	runAgent(t, ctx, a)
	select {
	case <-ended:
	case <-ctx.Done():
		t.Fatal("the frame source did not end")
	}
	var snap status.Snapshot
	for ctx.Err() == nil {
		snap = a.Snapshot()
		if snap.Queue.Depth == 0 && snap.Uplink.Acknowledged == visitors && a.StatusServer().BoundAddr() != "" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if snap.Scans["verified"] != visitors || snap.Scans["expired"] != 1 || snap.Uplink.LastUpload.IsZero() ||
		snap.Camera.State != "ended" || snap.State() != status.Scanning {
		t.Fatalf("snapshot = %+v, state %s", snap, snap.State())
	}
	base := "http://" + a.StatusServer().BoundAddr()

	var outputs []string
	fetch := func(path string) string {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %s %s", path, resp.Status, b)
		}
		outputs = append(outputs, string(b))
		return string(b)
	}
	page := fetch("/")
	if !strings.Contains(page, "정상 작동 중") || !strings.Contains(page, "gate-t") {
		t.Errorf("page lacks the state line or the device")
	}
	fetch("/?lang=en")
	fetch("/settings")
	fetch("/healthz")
	var counts status.Counts
	if err := json.Unmarshal([]byte(fetch("/api/counts")), &counts); err != nil {
		t.Fatal(err)
	}
	if counts.TodayTotal() != visitors || len(counts.Devices) != 1 || counts.Devices[0].Device != "gate-t" {
		t.Errorf("counts = %+v, want %d today on gate-t", counts, visitors)
	}
	var rep status.StatusReport
	if err := json.Unmarshal([]byte(fetch("/api/status")), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.State != status.Scanning || rep.Queue.Depth != 0 || rep.Scans["verified"] != visitors {
		t.Errorf("api/status = %+v", rep)
	}
	metrics := fetch("/metrics")
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(metrics))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	if h := fams["kipass_decode_duration_seconds"]; h == nil || h.Metric[0].Histogram.GetSampleCount() != uint64(len(frames)) {
		t.Errorf("decode histogram: %v, want %d frames", h, len(frames))
	}
	for _, m := range fams["kipass_scans_total"].Metric {
		want := map[string]float64{"verified": visitors, "expired": 1}[m.Label[0].GetValue()]
		if m.Counter.GetValue() != want {
			t.Errorf("scans_total{%s} = %v, want %v", m.Label[0].GetValue(), m.Counter.GetValue(), want)
		}
	}
	outputs = append(outputs, logs.String())

	for _, text := range texts {
		payload := strings.TrimPrefix(text, "KP1:")
		secrets := map[string]string{"token": text, "token body": payload, "token prefix": payload[:12],
			"token suffix": payload[len(payload)-12:], "scan id": token.ScanID(cfg.Device, text)}
		for _, out := range outputs {
			for what, s := range secrets {
				if strings.Contains(out, s) {
					t.Fatalf("a %s appears in the output:\n%.400s", what, out)
				}
			}
		}
	}
}

// TestConfigStatusKeys reads the status keys and their defaults.
func TestConfigStatusKeys(t *testing.T) {
	base := `{"facility":"F","device":"D","source":"0","data_dir":"d","central_url":"https://c","keys_file":"k"`
	c, err := ParseConfig(strings.NewReader(base + `}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Status.Listen != status.DefaultAddr || c.Status.Language != "ko" || c.Status.PINFile != "" {
		t.Fatalf("defaults: %+v", c.Status)
	}
	c, err = ParseConfig(strings.NewReader(base + `,"status":{"listen":"off","pin_file":"pin","language":"en"}}`))
	if err != nil || c.Status != (StatusConfig{Listen: "off", PINFile: "pin", Language: "en"}) {
		t.Fatalf("status keys: %+v %v", c.Status, err)
	}
	if _, err := ParseConfig(strings.NewReader(base + `,"status":{"language":"jp"}}`)); err == nil || !strings.Contains(err.Error(), "status.language") {
		t.Fatalf("bad language: %v", err)
	}
	if _, err := ParseConfig(strings.NewReader(base + `,"status":{"pin":"1234"}}`)); err == nil {
		t.Fatal("unknown status key accepted")
	}
}

// clockAlarm stands in for the trust clock's report: a fault, raised by set.
type clockAlarm struct {
	mu  sync.Mutex
	off time.Duration
	on  bool
}

func (c *clockAlarm) set(off time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off, c.on = off, true
}

func (c *clockAlarm) ClockHealth() (time.Duration, bool, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.on {
		return 0, false, ""
	}
	return c.off, true, "device clock is 12 min behind central"
}

// framesFunc is a frame source read through a function.
type framesFunc func(ctx context.Context) (camera.Frame, error)

func (f framesFunc) Next(ctx context.Context) (camera.Frame, error) { return f(ctx) }
func (f framesFunc) Close() error                                   { return nil }

// TestSnapshotDerivedHealth drives the derived camera and storage states
// with a fake clock, a real folder source and a real, tiny queue.
func TestSnapshotDerivedHealth(t *testing.T) {
	fc := clock.NewFake(time.Now())
	alarm := &clockAlarm{}
	dir := t.TempDir()
	var src camera.Source
	r := newRigWith(t, 1, func(p *Parts, o *Options) {
		o.Clock, o.QueueMax = fc, 1
		p.Watch = Watch{Clock: alarm}
		p.Frames = framesFunc(func(ctx context.Context) (camera.Frame, error) { return src.Next(ctx) })
	})

	if s := r.a.Snapshot(); s.Camera.State != "starting" || s.State() != status.Scanning {
		t.Fatalf("at start: camera %q, state %s", s.Camera.State, s.State())
	}
	fc.Advance(NoFramesAfter + time.Second)
	if s := r.a.Snapshot(); s.Camera.State != "no_frames" || s.State() != status.CameraProblem {
		t.Fatalf("no frames: camera %+v, state %s", s.Camera, s.State())
	}

	tok1, _ := token.Signer{Key: r.key}.Issue(time.Now())
	tok2, _ := token.Signer{Key: r.key}.Issue(time.Now().Add(time.Second))
	var imgs []*image.Gray
	for _, tok := range []string{tok1, tok2} {
		img, err := renderFrame(tok)
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, img)
	}
	if err := camera.WriteFolder(dir, imgs); err != nil {
		t.Fatal(err)
	}
	var err error
	if src, err = camera.Open(context.Background(), "folder:"+dir, camera.Options{}); err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	// Frames are read one at a time, as the scan loop reads them.
	ctx := context.Background()
	if err := r.a.nextFrame(ctx); err != nil {
		t.Fatal(err)
	}
	s := r.a.Snapshot()
	if s.Camera.State != "ok" || s.Camera.Frames != 1 || s.Scans["verified"] != 1 || s.Queue.Depth != 1 {
		t.Fatalf("after one scan: %+v", s)
	}
	// The queue holds its maximum: storage is at risk before any failure.
	if s.State() != status.StorageProblem || !strings.Contains(s.Storage.Problem, "almost full") {
		t.Fatalf("full queue: state %s, %q", s.State(), s.Storage.Problem)
	}
	r.a.nextFrame(ctx)
	s = r.a.Snapshot()
	if s.Storage.Failures != 1 || s.Storage.Problem != "a scan could not be recorded" {
		t.Fatalf("after a failed recording: %+v", s.Storage)
	}
	if err := r.a.nextFrame(ctx); err != io.EOF {
		t.Fatalf("end of folder: %v", err)
	}
	if s := r.a.Snapshot(); s.Camera.State != "ended" {
		t.Fatalf("camera after the source ended: %q", s.Camera.State)
	}
	hc, _ := r.a.obs.counter.HourlyCounts(time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if len(hc) != 1 || hc[0].Count != 1 || hc[0].Device != "D1" {
		t.Fatalf("hourly counts = %+v, want the one recorded scan", hc)
	}

	// A clock alarm from the trust clock shows, below a storage problem.
	r.q.Ack([]string{token.ScanID("D1", tok1)})
	fc.Advance(StoreFailureShown)
	alarm.set(-12 * time.Minute)
	s = r.a.Snapshot()
	if s.State() != status.ClockProblem || !s.Clock.Known || s.Clock.Offset != -12*time.Minute {
		t.Fatalf("clock alarm: state %s, %+v, storage %+v", s.State(), s.Clock, s.Storage)
	}
}

// TestQueueCountsAreDurable checks the status page's counts come from the
// queue's durable hourly counters: a reopened queue still has them.
func TestQueueCountsAreDurable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queue.db")
	q, err := queue.Open(path, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i := 0; i < 3; i++ {
		r := queue.Record{Scan: api.Scan{ID: fmt.Sprintf("id-%d", i), Facility: "F", Device: "D1",
			DeviceTime: now, CorrectedTime: now, Token: fmt.Sprintf("KP1:T%d", i), Verdict: "verified"}}
		if _, err := q.Enqueue(r); err != nil {
			t.Fatal(err)
		}
	}
	q.Close()
	if q, err = queue.Open(path, queue.Options{}); err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	hc, err := queueCounts{q, "D1"}.HourlyCounts(now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, h := range hc {
		if h.Device != "D1" {
			t.Fatalf("device = %q", h.Device)
		}
		total += h.Count
	}
	if total != 3 {
		t.Fatalf("counts after reopen = %+v, want 3 visitors", hc)
	}
}
