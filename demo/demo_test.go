package demo

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kipass/kipass/camera"
	"github.com/kipass/kipass/clock"
	"github.com/kipass/kipass/logging"
)

// TestRunEndToEnd runs the whole path: a generated video read back through
// the real VideoCapture (an image folder in builds without OpenCV), the real
// decoder, verifier, queue file and speaker, and a real central on loopback.
func TestRunEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	dir := t.TempDir()
	// Under -race on a loaded 2-core machine, decoding is ~10x slower than
	// in a release build; a clock running at a tenth of real speed keeps
	// the 15-second tokens fair without changing what is checked.
	sum, err := Run(ctx, Options{Dir: dir, Scans: 10, Out: &out, Log: logging.New(&bytes.Buffer{}, "warn"),
		Clock: clock.NewSlowed(10)})
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Verified != 10 || sum.Enqueued != 10 || sum.Acknowledged != 10 || sum.CentralStored != 10 || sum.Confirmed != 10 {
		t.Fatalf("summary = %+v", sum)
	}
	if sum.Rejected != 2 {
		t.Fatalf("rejected = %d, want the foreign QR and the expired token", sum.Rejected)
	}
	wantSource := "frames"
	if camera.HaveOpenCV {
		wantSource = "phone.avi"
	}
	if !strings.Contains(out.String(), wantSource) {
		t.Fatalf("demo did not read %s:\n%s", wantSource, out.String())
	}
	if strings.Count(out.String(), "frame→voice") != 12 {
		t.Fatalf("want one line per scan:\n%s", out.String())
	}
	// The camera stamps frames on the same clock as the voice: no
	// latency comes out negative, whatever clock the demo runs on.
	if regexp.MustCompile(`frame→voice\s+-`).MatchString(out.String()) {
		t.Fatalf("negative frame→voice latency: the camera and the voice run on different clocks:\n%s", out.String())
	}
}

// TestRunMakesItsDir: demo --dir DIR creates DIR (and its parents).
func TestRunMakesItsDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "demo")
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the demo itself is TestRunEndToEnd; only the folder is checked here
	Run(ctx, Options{Dir: dir, Scans: 1, Out: io.Discard, Log: logging.New(io.Discard, "error")})
	if fi, err := os.Stat(filepath.Join(dir, "keys.json")); err != nil || fi.IsDir() {
		t.Fatalf("demo --dir with a new folder: %v", err)
	}
}
