package soak

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kipass/kipass/faults"
)

// TestSoakShort runs the real agent binary (pure Go build) for a short
// soak and checks that visitors were read, nothing confirmed was lost and
// every figure was measured.
func TestSoakShort(t *testing.T) {
	if host, _ := exec.Command("go", "env", "GOHOSTARCH").Output(); strings.TrimSpace(string(host)) != runtime.GOARCH {
		t.Skipf("the test runs as %s on a %s host (emulated): the agent it builds for %s could not be started", runtime.GOARCH, strings.TrimSpace(string(host)), runtime.GOARCH)
	}
	length := 15 * time.Second
	if testing.Short() {
		length = 8 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin := t.TempDir()
	if err := faults.BuildBinaries(ctx, bin); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	r, err := Run(ctx, Options{Agent: filepath.Join(bin, "kipass-agent"), Duration: length, Every: 2 * time.Second,
		Variants: 1, Warmup: 3 * time.Second, Progress: 5 * time.Second, Dir: t.TempDir(), Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("progress:\n%s\n%s", out.String(), r)
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if r.Visitors < 2 || r.Confirmed < 1 || r.Confirmed > r.Visitors {
		t.Errorf("visitors %d, confirmed %d: want at least 2 shown and 1..shown confirmed", r.Visitors, r.Confirmed)
	}
	if r.Verdicts["verified"] != r.Confirmed || r.ErrorLines != 0 {
		t.Errorf("verdicts %v for %d confirmed, %d error lines (%s)", r.Verdicts, r.Confirmed, r.ErrorLines, r.LastError)
	}
	if r.Delivered < r.Confirmed || r.Lost != 0 || r.Unknown != 0 {
		t.Errorf("delivered %d of %d confirmed, lost %d, unknown %d", r.Delivered, r.Confirmed, r.Lost, r.Unknown)
	}
	if len(r.Latencies) != r.Confirmed || r.Percentile(0.99) <= 0 || r.Percentile(0.5) > r.Percentile(0.99) {
		t.Errorf("latencies %v for %d confirmed scans", r.Latencies, r.Confirmed)
	}
	if r.RSSStart <= 0 || r.RSSEnd <= 0 || r.RSSMax < r.RSSEnd || r.RSSMax < r.RSSStart {
		t.Errorf("rss start %d end %d max %d", r.RSSStart, r.RSSEnd, r.RSSMax)
	}
	if r.GoroutinesStart <= 0 || r.GoroutinesEnd <= 0 {
		t.Errorf("goroutines start %d end %d", r.GoroutinesStart, r.GoroutinesEnd)
	}
	if r.FramesRead <= 0 || r.FramesServed < r.FramesRead || r.FramesDropped < 0 || r.FramesDropped > r.FramesServed {
		t.Errorf("frames served %d read %d dropped %d", r.FramesServed, r.FramesRead, r.FramesDropped)
	}
	if r.LoadStart == "" || r.LoadEnd == "" {
		t.Errorf("load average not read: %q, %q", r.LoadStart, r.LoadEnd)
	}
	if !strings.Contains(out.String(), "goroutines") {
		t.Errorf("no progress line in %q", out.String())
	}
}

// TestSoakAgentDiesAtStart runs an agent binary that exits at once: the
// soak fails with ErrDied instead of waiting.
func TestSoakAgentDiesAtStart(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "kipass-agent")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexit 3\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := Run(context.Background(), Options{Agent: script, Duration: 5 * time.Second, Dir: filepath.Join(dir, "run")})
	if !errors.Is(err, ErrDied) {
		t.Fatalf("err = %v, want the agent's death at start", err)
	}
}

func TestPercentileNearestRank(t *testing.T) {
	var r Report
	if r.Percentile(0.99) != 0 {
		t.Fatal("no latencies: want 0")
	}
	for i := 1; i <= 200; i++ {
		r.Latencies = append(r.Latencies, time.Duration(i)*time.Millisecond)
	}
	for q, want := range map[float64]time.Duration{0.5: 100 * time.Millisecond, 0.99: 198 * time.Millisecond, 1: 200 * time.Millisecond} {
		if got := r.Percentile(q); got != want {
			t.Errorf("Percentile(%v) = %v, want %v", q, got, want)
		}
	}
}

func TestReportVerdict(t *testing.T) {
	r := Report{Visitors: 10, Confirmed: 9, Delivered: 8, Lost: 1, RSSStart: 30e6, RSSEnd: 40e6, RSSMax: 70e6,
		Latencies: []time.Duration{20 * time.Millisecond, 150 * time.Millisecond},
		Verdicts:  map[string]int{"verified": 9, "expired": 1}, ErrorLines: 2, LastError: "scan could not be recorded"}
	s := r.String()
	for _, want := range []string{"lost 1", "MISSED", "FAIL", "expired 1 besides verified", "2 error lines"} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q:\n%s", want, s)
		}
	}
	if err := r.Err(); err == nil || !strings.Contains(err.Error(), "1 of 9") {
		t.Errorf("Err() = %v, want the lost scan", err)
	}
	r = Report{Visitors: 10, Confirmed: 10, Delivered: 10, RSSStart: 30e6, RSSEnd: 31e6, RSSMax: 35e6,
		Latencies: []time.Duration{20 * time.Millisecond}}
	if err := r.Err(); err != nil {
		t.Errorf("Err() = %v for a clean run", err)
	}
	if s := r.String(); strings.Contains(s, "MISSED") || !strings.Contains(s, "ok:") {
		t.Errorf("clean run reported as:\n%s", s)
	}
	if err := (Report{Visitors: 5}).Err(); err == nil || !strings.Contains(err.Error(), "no visitor") {
		t.Errorf("Err() = %v, want no visitor read", err)
	}
}

func TestParseMetrics(t *testing.T) {
	m, err := parseMetrics(strings.NewReader("# HELP go_goroutines x\n# TYPE go_goroutines gauge\ngo_goroutines 27\n" +
		"kipass_scans_total{verdict=\"verified\"} 12\nkipass_camera_frames_dropped_total 3\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m["go_goroutines"] != 27 || m[`kipass_scans_total{verdict="verified"}`] != 12 || m["kipass_camera_frames_dropped_total"] != 3 {
		t.Fatalf("parsed %v", m)
	}
}
