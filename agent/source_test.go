package agent

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/kipass/kipass/camera/engine"
	"github.com/kipass/kipass/token"
)

// TestScanEngineCodes feeds a scan engine's lines (a PDA's built-in engine
// writing decoded text) through the real engine reader into the agent.
func TestScanEngineCodes(t *testing.T) {
	r := newRig(t, 0)
	tok, _ := token.Signer{Key: r.key}.Issue(time.Now())
	pr, pw := io.Pipe()
	r.a.p.Codes = engine.NewReader(pr, "test-engine", engine.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	ended := make(chan struct{})
	r.a.o.OnSourceEnd = func() { close(ended) }
	done := make(chan error, 1)
	go func() { done <- r.a.Run(ctx) }()
	fmt.Fprintf(pw, "%s\r\nhttps://example.com/\r\n%s\r\n", tok, tok)
	pw.Close()
	select {
	case <-ended:
	case <-time.After(30 * time.Second):
		t.Fatal("engine source did not end")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.scans) != 2 || r.scans[0].Verdict != token.Verified || !r.scans[0].Recorded || r.scans[1].Verdict != token.Invalid {
		t.Fatalf("scans = %+v (the repeat within the window must be suppressed)", r.scans)
	}
	if st, _ := r.q.Stats(); st.Depth != 1 {
		t.Fatalf("depth = %d", st.Depth)
	}
}

func TestEngineSpecsAndCameraKeys(t *testing.T) {
	for spec, want := range map[string]bool{"stdin": true, "serial:/dev/ttyACM0": true, "evdev:/dev/input/event3": true,
		"0": false, "/dev/video0": false, "folder:/x": false, "phone.avi": false} {
		if isEngineSpec(spec) != want {
			t.Errorf("isEngineSpec(%q) = %v", spec, !want)
		}
	}
	if _, err := parseFocus("blurry"); err == nil || !strings.Contains(err.Error(), "camera.focus") {
		t.Fatalf("bad focus: %v", err)
	}
	for spec, want := range map[string]time.Duration{"stdin": 2500 * time.Millisecond, "0": 5 * time.Second} {
		c := Config{Source: spec}
		c.SetDefaults()
		if time.Duration(c.DedupWindow) != want {
			t.Errorf("default dedup window for %q = %v, want %v", spec, time.Duration(c.DedupWindow), want)
		}
	}
	if _, err := parseExposure("glare"); err != nil {
		t.Fatal(err)
	}
}
