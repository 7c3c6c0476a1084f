package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/kipass/kipass/status"
)

// fixedSource serves one snapshot.
type fixedSource struct{ s status.Snapshot }

func (f fixedSource) Snapshot() status.Snapshot { return f.s }

// serveSnapshot runs a real status page over s on loopback.
func serveSnapshot(t *testing.T, s status.Snapshot) string {
	t.Helper()
	srv, err := status.New(status.Options{Addr: "127.0.0.1:0", Source: fixedSource{s}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

// TestStatusExitFollowsState: `kipass-agent status` of a scan-engine
// device prints its scanner, never a camera; exits 3 for a disconnected
// scanner and 4 when central refuses the device; reads the clock offset
// the right way round and writes times with their zone.
func TestStatusExitFollowsState(t *testing.T) {
	now := time.Date(2026, 11, 22, 6, 30, 0, 0, time.UTC)
	base := status.Snapshot{At: now, Facility: "F", Device: "D", Started: now.Add(-time.Hour), Scans: map[string]int64{},
		Uplink:  status.Uplink{LastUpload: now.Add(-time.Minute)},
		Scanner: &status.Scanner{Source: "serial:/dev/ttyACM0", State: "open", Codes: 2},
		Clock:   status.Clock{Known: true, Offset: 600 * time.Second}}
	cases := []struct {
		name string
		edit func(*status.Snapshot)
		exit int
		want []string
	}{
		{"scanning", func(*status.Snapshot) {}, 0, []string{"scanner:", "open, 2 codes", "600.0s behind central",
			"2026-11-22 15:29:00 KST", "2026-11-22 14:30:00 KST"}},
		{"disconnected", func(s *status.Snapshot) { s.Scanner.State, s.Scanner.Problem = "disconnected", "unplugged" }, 3,
			[]string{"Scanner problem", "disconnected"}},
		{"refused", func(s *status.Snapshot) {
			s.Uplink.Refused = &status.Refusal{Status: 401, Reason: "missing_credential", Since: now}
		}, 4, []string{"Device not registered", "central refuses this device (401 missing_credential)"}},
		{"fast clock", func(s *status.Snapshot) { s.Clock.Offset = -2500 * time.Millisecond }, 0, []string{"2.5s ahead of central"}},
	}
	for _, c := range cases {
		s := base
		sc := *base.Scanner
		s.Scanner = &sc
		c.edit(&s)
		addr := serveSnapshot(t, s)
		var out, errb bytes.Buffer
		code := run([]string{"status", "--addr", addr}, &out, &errb)
		if code != c.exit {
			t.Errorf("%s: exit %d, want %d\n%s%s", c.name, code, c.exit, out.String(), errb.String())
		}
		for _, w := range c.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%s: output lacks %q:\n%s", c.name, w, out.String())
			}
		}
		if strings.Contains(out.String(), "camera") {
			t.Errorf("%s: a scan-engine device's status mentions a camera:\n%s", c.name, out.String())
		}
	}
}

// hourList is hourly counts as test data.
type hourList []status.HourCount

func (h hourList) HourlyCounts(from, to time.Time) ([]status.HourCount, error) { return h, nil }

// TestStatsByEntrance: `kipass-agent stats` names the device's column by
// its entrance (후문), not its id, and says whose counts these are.
func TestStatsByEntrance(t *testing.T) {
	now := time.Now()
	s := status.Snapshot{At: now, Facility: "F", Device: "D-61318db1c0a9e2f4", Entrance: "후문", Scans: map[string]int64{}}
	srv, err := status.New(status.Options{Addr: "127.0.0.1:0", Source: fixedSource{s},
		Counter: hourList{{Hour: now.Truncate(time.Hour), Device: "D-61318db1c0a9e2f4", Count: 3}}})
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()
	var out, errb bytes.Buffer
	if rc := run([]string{"stats", "--addr", ln.Addr().String()}, &out, &errb); rc != 0 {
		t.Fatalf("stats: %d %s", rc, errb.String())
	}
	if !strings.Contains(out.String(), "후문") || strings.Contains(out.String(), "D-6131") ||
		!strings.Contains(out.String(), "this device only") || !strings.Contains(out.String(), " KST") {
		t.Fatalf("stats output:\n%s", out.String())
	}
}
