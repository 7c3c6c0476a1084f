package status

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestStatesFollowTheSource: a scan-engine device shows its engine, never
// a camera; a refused device reads "not registered", apart from offline.
func TestStatesFollowTheSource(t *testing.T) {
	s := testSnapshot()
	s.Camera = Camera{}
	s.Scanner = &Scanner{Source: "serial:/dev/ttyACM0", State: "open", Codes: 3}
	if s.State() != Scanning {
		t.Fatalf("open scanner: %s", s.State())
	}
	s.Camera.Problem = "no frame for 30s" // never read on a scan-engine device
	if s.State() != Scanning {
		t.Fatalf("camera problem on a scan-engine device: %s", s.State())
	}
	s.Queue.OldestEnqueued = s.At.Add(-Offline - time.Second)
	if s.State() != OfflineRecording {
		t.Fatalf("central unreachable: %s", s.State())
	}
	s.Scanner.State, s.Scanner.Problem = "disconnected", "the scanner is disconnected"
	if s.State() != ScannerProblem {
		t.Fatalf("disconnected scanner: %s", s.State())
	}
	s.Uplink.Refused = &Refusal{Status: 401, Reason: "missing_credential", Since: s.At}
	if s.State() != NotRegistered {
		t.Fatalf("refused: %s", s.State())
	}
	for _, st := range States {
		if _, ok := StateColour[st]; !ok || T("ko", "state."+string(st)) == "state."+string(st) ||
			T("en", "hint."+string(st)) == "hint."+string(st) {
			t.Errorf("state %s lacks a colour, a name or a hint", st)
		}
	}

	srv, err := New(Options{Source: staticSource{s}, Counter: testCounter()})
	if err != nil {
		t.Fatal(err)
	}
	base := serve(t, srv)
	_, ko := get(t, http.DefaultClient, base+"/")
	_, en := get(t, http.DefaultClient, base+"/?lang=en")
	for _, c := range []struct{ page, want string }{
		{ko, "등록되지 않은 기기입니다"}, {ko, `data-state="not_registered"`}, {ko, "스캐너: 연결 끊김"},
		{en, "Device not registered"}, {en, "Scanner: disconnected"},
	} {
		if !strings.Contains(c.page, c.want) {
			t.Errorf("page lacks %q", c.want)
		}
	}
	if strings.Contains(ko, "카메라") || strings.Contains(en, "Camera") {
		t.Error("a scan-engine device's page mentions a camera")
	}
	_, metrics := get(t, http.DefaultClient, base+"/metrics")
	if strings.Contains(metrics, "kipass_camera_state") || !strings.Contains(metrics, `kipass_scanner_state{state="disconnected"} 1`) ||
		!strings.Contains(metrics, `kipass_state{state="not_registered"} 1`) {
		t.Errorf("metrics of a refused scan-engine device:\n%s", metrics)
	}
}
