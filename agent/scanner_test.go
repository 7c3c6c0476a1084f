package agent

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kipass/kipass/camera"
	"github.com/kipass/kipass/camera/engine"
	"github.com/kipass/kipass/central"
	"github.com/kipass/kipass/clock"
	"github.com/kipass/kipass/status"
	"github.com/kipass/kipass/token"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestScanEngineDeviceHasNoCamera opens an agent whose codes come from a
// serial scan engine that is not plugged in: it reports the scanner as
// disconnected, never a camera problem, on the state line, in /metrics and
// in the heartbeat central's fleet view reads.
func TestScanEngineDeviceHasNoCamera(t *testing.T) {
	k, _ := token.GenerateKey("dev")
	keys := token.NewKeySet(k.Public())
	c, err := central.Open(filepath.Join(t.TempDir(), "central.db"), central.Options{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv := httptest.NewServer(c.Handler())
	defer srv.Close()
	a := openAgainst(t, srv.URL, "", keys)

	deadline := time.Now().Add(20 * time.Second)
	var s status.Snapshot
	for {
		s = a.Snapshot()
		if s.Scanner != nil && s.Scanner.State == "disconnected" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("scanner never reported disconnected: %+v", s.Scanner)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s.State() != status.ScannerProblem || s.Camera.State != "" || !strings.Contains(s.Scanner.Problem, "disconnected") {
		t.Fatalf("state %s, camera %+v, scanner %+v", s.State(), s.Camera, s.Scanner)
	}
	if hb := heartbeatState(s); hb.Camera != "" || hb.Scanner != "disconnected" {
		t.Fatalf("heartbeat for a disconnected scan engine: camera %q, scanner %q", hb.Camera, hb.Scanner)
	}
	rec := httptest.NewRecorder()
	a.obs.metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := mfs["kipass_camera_state"]; ok {
		t.Fatal("a scan-engine device exports kipass_camera_state")
	}
	found := false
	for _, m := range mfs["kipass_scanner_state"].GetMetric() {
		if m.GetLabel()[0].GetValue() == "disconnected" && m.GetGauge().GetValue() == 1 {
			found = true
		}
	}
	if !found || mfs["kipass_state"] == nil {
		t.Fatalf("kipass_scanner_state{state=disconnected} missing:\n%s", rec.Body.String())
	}
}

// TestScanEngineStateShowsCentral: a healthy scan engine that delivers no
// code for minutes is not a problem (a PDA idles between visitors), and
// the state line then shows central's problems: scans waiting longer than
// status.Offline read "offline, still recording".
func TestScanEngineStateShowsCentral(t *testing.T) {
	fc := clock.NewFake(time.Now())
	sw := newScanWatch("stdin", nil, fc)
	r := newRigWith(t, 0, func(_ *Parts, o *Options) { o.Clock, o.scanner = fc, sw })
	pr, pw := io.Pipe()
	codes := watchedCodes{engine.NewReader(pr, "stdin", engine.Options{}), r.a.obs.scanner}
	tok, _ := token.Signer{Key: r.key}.Issue(time.Now())
	go fmt.Fprintf(pw, "%s\n", tok)
	code, err := codes.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r.a.HandleText(context.Background(), code.Text, code.At)

	fc.Advance(2 * NoFramesAfter)
	s := r.a.Snapshot()
	if s.State() != status.Scanning || s.Scanner.State != "open" || s.Scanner.Codes != 1 || s.Camera.State != "" {
		t.Fatalf("idle engine: state %s, scanner %+v, camera %+v", s.State(), s.Scanner, s.Camera)
	}
	fc.Advance(status.Offline + time.Minute)
	if s := r.a.Snapshot(); s.State() != status.OfflineRecording {
		t.Fatalf("scan waiting %v: state %s (queue %+v)", s.Queue.OldestAge(s.At), s.State(), s.Queue)
	}
	pw.Close()
	if _, err := codes.Next(context.Background()); err != io.EOF {
		t.Fatalf("end of input: %v", err)
	}
	if s := r.a.Snapshot(); s.Scanner.State != "ended" {
		t.Fatalf("scanner after end: %+v", s.Scanner)
	}
}

// TestScanEngineNotOpenedYetIsStarting: before a scan engine has opened
// (the first heartbeat at start), it is "starting", not a problem, and the
// heartbeat says so rather than "reopening".
func TestScanEngineNotOpenedYetIsStarting(t *testing.T) {
	h := camera.Health{State: camera.StateStarting, Reason: "not opened yet"}
	src := &source{health: func() camera.Health { return h }}
	w := newScanWatch("serial:/dev/ttyACM0", src, clock.NewFake(time.Now()))
	s := w.snapshot()
	if s.State != "starting" || s.Problem != "" {
		t.Fatalf("not opened yet: %+v", s)
	}
	if hb := heartbeatState(status.Snapshot{Scanner: s}); hb.Scanner != "starting" || hb.Camera != "" {
		t.Fatalf("heartbeat: %+v", hb)
	}
	h = camera.Health{State: camera.StateReopening, Reason: "open /dev/ttyACM0: no such device"}
	if s := w.snapshot(); s.State != "reopening" || s.Problem == "" {
		t.Fatalf("after a failed open: %+v", s)
	}
}
