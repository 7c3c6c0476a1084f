package agent

import (
	"context"
	"encoding/json"
	"image"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kipass/kipass/camera"
	"github.com/kipass/kipass/central"
	"github.com/kipass/kipass/clock"
	"github.com/kipass/kipass/logging"
	"github.com/kipass/kipass/screen"
	"github.com/kipass/kipass/status"
	"github.com/kipass/kipass/token"
)

// TestWatchedFolderReadsImagesAddedLater runs the daemon as `run` does on
// a "folder:DIR" source that starts empty: the empty folder is waiting,
// not a camera problem, and a visitor's QR moved into it later is read,
// recorded and delivered to a real central on loopback.
func TestWatchedFolderReadsImagesAddedLater(t *testing.T) {
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
	cs, err := central.Open(filepath.Join(dir, "central.db"), central.Options{Keys: keys, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	hs := httptest.NewServer(cs.Handler())
	defer hs.Close()

	frames := filepath.Join(dir, "frames")
	if err := os.Mkdir(frames, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Facility: "FAC-W", Device: "gate-w", Source: "folder:" + frames,
		DataDir: filepath.Join(dir, "agent"), CentralURL: hs.URL, KeysFile: keysFile, Audio: AudioConfig{Device: "none"}}
	cfg.SetDefaults()
	cfg.Status = StatusConfig{Listen: StatusOff}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, err := Open(ctx, cfg, logging.New(&syncBuffer{}, "debug"), Hooks{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	runAgent(t, ctx, a)

	snap := waitSnapshot(ctx, a, func(s status.Snapshot) bool { return s.Camera.State == "watching" })
	if snap.Camera.State != "watching" || snap.Camera.Problem != "" || snap.State() != status.Scanning {
		t.Fatalf("an empty watched folder: camera %+v, state %s", snap.Camera, snap.State())
	}

	// A visitor: the QR is rendered elsewhere and moved in, as a camera
	// app or the quickstart does.
	tok, err := token.Signer{Key: key}.Issue(clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	img, err := screen.Render(tok, screen.Options{Width: 640, Height: 480})
	if err != nil {
		t.Fatal(err)
	}
	staging := filepath.Join(dir, "staging")
	if err := camera.WriteFolder(staging, []*image.Gray{img}); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(staging, "frame_0000.png"), filepath.Join(frames, "visitor.png")); err != nil {
		t.Fatal(err)
	}
	snap = waitSnapshot(ctx, a, func(s status.Snapshot) bool { return s.Uplink.Acknowledged == 1 })
	if snap.Scans["verified"] != 1 || snap.Uplink.Acknowledged != 1 || snap.Camera.State == "ended" {
		t.Fatalf("after an image was added: scans %v, uplink %+v, camera %+v", snap.Scans, snap.Uplink, snap.Camera)
	}
	// The image is read once: the source goes back to watching.
	snap = waitSnapshot(ctx, a, func(s status.Snapshot) bool { return s.Camera.State == "watching" })
	if snap.Camera.State != "watching" || snap.Scans["verified"] != 1 {
		t.Fatalf("after the image was read: scans %v, camera %+v", snap.Scans, snap.Camera)
	}
}

// runAgent runs a until the test ends, then stops it, reports an error
// from Run, and closes it (in that order).
func runAgent(t *testing.T, ctx context.Context, a *Agent) {
	t.Helper()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		a.Close()
	})
}

// waitSnapshot polls the agent's snapshot until ok or ctx ends, and returns
// the last one.
func waitSnapshot(ctx context.Context, a *Agent, ok func(status.Snapshot) bool) status.Snapshot {
	for {
		s := a.Snapshot()
		if ok(s) || ctx.Err() != nil {
			return s
		}
		time.Sleep(20 * time.Millisecond)
	}
}
