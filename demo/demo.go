// Package demo runs the whole scan path on a generated sample: a reference
// central on loopback, fresh tokens rendered as a phone-screen video, the
// real agent reading it back, and a check that central acknowledged every
// scan confirmed aloud.
package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/kipass/kipass/agent"
	"github.com/kipass/kipass/camera"
	"github.com/kipass/kipass/central"
	"github.com/kipass/kipass/clock"
	"github.com/kipass/kipass/logging"
	"github.com/kipass/kipass/screen"
	"github.com/kipass/kipass/token"
)

// ErrNotAcknowledged means the demo ended with confirmed scans that central
// did not acknowledge.
var ErrNotAcknowledged = errors.New("confirmed scans not acknowledged by central")

// Options configure Run.
type Options struct {
	// Dir is the working directory for the video, queue and central files;
	// a temporary directory (removed afterwards) when empty.
	Dir string
	// Scans is the number of visitors with fresh tokens; default 12.
	Scans int
	// Out receives one line per scan and the summary.
	Out io.Writer
	// Log receives the agent's logs.
	Log *slog.Logger
	// Audio selects the voice; the default device, silent when absent.
	Audio agent.AudioConfig
	// Clock issues the tokens and judges them; clock.Real when nil.
	Clock clock.Clock
	// StatusListen, when set, serves the status page on this address and
	// keeps the agent running after the sample until ctx ends.
	StatusListen string
}

// Summary is what the demo counted.
type Summary struct {
	agent.Stats
	// Confirmed scans were recorded and confirmed aloud.
	Confirmed int64
	// CentralStored is the number of distinct scans central holds.
	CentralStored int
}

// String is the summary line.
func (s Summary) String() string {
	return fmt.Sprintf("summary: frames=%d decoded=%d verified=%d enqueued=%d forwarded=%d acknowledged=%d rejected=%d central_stored=%d",
		s.Frames, s.Decoded, s.Verified, s.Enqueued, s.Forwarded, s.Acknowledged, s.Rejected, s.CentralStored)
}

// Run runs the whole path on a generated sample: it starts a reference
// central on loopback, issues fresh tokens, renders them as a short video
// of a phone screen (gocv's VideoWriter; an image folder in builds without
// OpenCV), reads it back through the same source path a camera uses, and
// waits until central has acknowledged every confirmed scan. It returns an
// error wrapping ErrNotAcknowledged otherwise.
func Run(ctx context.Context, o Options) (Summary, error) {
	if o.Scans <= 0 {
		o.Scans = 12
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Dir != "" {
		// A new directory is made (0700: it holds central's data too).
		if err := os.MkdirAll(o.Dir, 0o700); err != nil {
			return Summary{}, fmt.Errorf("demo: %w", err)
		}
	} else {
		d, err := os.MkdirTemp("", "kipass-demo-")
		if err != nil {
			return Summary{}, fmt.Errorf("demo: %w", err)
		}
		defer os.RemoveAll(d)
		o.Dir = d
	}

	// The issuer and central.
	key, err := token.GenerateKey("dev")
	if err != nil {
		return Summary{}, fmt.Errorf("demo: %w", err)
	}
	keys := token.NewKeySet(key.Public())
	keysFile := filepath.Join(o.Dir, "keys.json")
	if err := writeJSONFile(keysFile, keys); err != nil {
		return Summary{}, fmt.Errorf("demo: %w", err)
	}
	cs, err := central.Open(filepath.Join(o.Dir, "central.db"), central.Options{Keys: keys, Log: logging.For(o.Log, "central"), Clock: o.Clock})
	if err != nil {
		return Summary{}, fmt.Errorf("demo: %w", err)
	}
	defer cs.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Summary{}, fmt.Errorf("demo: listen: %w", err)
	}
	hs := &http.Server{Handler: cs.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go hs.Serve(ln)
	defer hs.Close()
	fmt.Fprintf(o.Out, "central listening on http://%s\n", ln.Addr())

	// The sample: fresh tokens on a phone screen, plus a foreign QR and an
	// expired token to show rejections.
	source, nframes, err := demoVideo(o.Dir, key, o.Scans, o.Clock.Now())
	if err != nil {
		return Summary{}, fmt.Errorf("demo: %w", err)
	}
	fmt.Fprintf(o.Out, "sample: %d visitors, %d frames in %s\n", o.Scans, nframes, source)

	cfg := agent.Config{
		Facility: "DEMO-FACILITY", Device: "demo-gate-1", Entrance: "정문", Source: source,
		DataDir: filepath.Join(o.Dir, "agent"), CentralURL: "http://" + ln.Addr().String(), KeysFile: keysFile,
		Audio: o.Audio,
	}
	cfg.SetDefaults()
	cfg.Status.Listen = o.StatusListen // the page only when asked for
	if cfg.Status.Listen == "" {
		cfg.Status.Listen = agent.StatusOff
	}

	var mu sync.Mutex
	var confirmed int64
	ended := make(chan struct{})
	var endOnce sync.Once
	a, err := agent.Open(ctx, cfg, o.Log, agent.Hooks{
		OnScan: func(s agent.Scan) {
			mu.Lock()
			defer mu.Unlock()
			rec := "not recorded"
			if s.Recorded {
				rec = "recorded"
				confirmed++
			}
			fmt.Fprintf(o.Out, "%s  %-8s  %-12s  %-14s  frame→voice %6.1f ms\n",
				s.At.Format("15:04:05.000"), s.Verdict, rec, s.Reason, float64(s.Latency.Microseconds())/1000)
		},
		OnSourceEnd: func() { endOnce.Do(func() { close(ended) }) },
		FolderOnce:  true, // the sample ends; the summary follows
		Clock:       o.Clock,
	})
	if err != nil {
		return Summary{}, fmt.Errorf("demo: %w", err)
	}
	defer a.Close()

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx) }()

	// Wait for the sample to end, then for the queue to drain.
	select {
	case <-ended:
	case <-ctx.Done():
	case err := <-done:
		return Summary{}, fmt.Errorf("demo: agent stopped early: %w", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for ctx.Err() == nil && time.Now().Before(deadline) {
		st, err := a.QueueStats()
		if err == nil && st.Depth == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	held := false
	if o.StatusListen != "" && ctx.Err() == nil {
		held = true
		fmt.Fprintf(o.Out, "status page: http://%s/ (Ctrl-C to stop)\n", o.StatusListen)
		select {
		case <-ctx.Done():
		case err := <-done:
			return Summary{}, fmt.Errorf("demo: agent stopped: %w", err)
		}
	}
	cancel()
	if err := <-done; err != nil {
		return Summary{}, fmt.Errorf("demo: %w", err)
	}

	sum := Summary{Stats: a.Stats(), Confirmed: confirmed}
	sum.CentralStored, _ = cs.ScanCount()
	fmt.Fprintln(o.Out, sum)
	st, err := a.QueueStats()
	if err != nil {
		return sum, fmt.Errorf("demo: %w", err)
	}
	if st.Depth != 0 || sum.Acknowledged < sum.Enqueued || int64(sum.CentralStored) < sum.Enqueued {
		return sum, fmt.Errorf("demo: %d still queued, %d enqueued, %d acknowledged: %w",
			st.Depth, sum.Enqueued, sum.Acknowledged, ErrNotAcknowledged)
	}
	if ctx.Err() != nil && !held {
		return sum, ctx.Err()
	}
	return sum, nil
}

// demoVideo renders the sample and returns the source spec that reads it.
func demoVideo(dir string, key token.PrivateKey, visitors int, now time.Time) (string, int, error) {
	const perCode, gap = 6, 2
	texts := make([]string, 0, visitors+2)
	for i := 0; i < visitors; i++ {
		t, err := token.Signer{Key: key}.Issue(now)
		if err != nil {
			return "", 0, err
		}
		texts = append(texts, t)
	}
	expired, err := token.Signer{Key: key}.Issue(now.Add(-time.Minute))
	if err != nil {
		return "", 0, err
	}
	// A foreign QR (a shop URL) and an expired token, among the visitors.
	texts = append(texts[:visitors/2], append([]string{"https://example.com/menu?table=7", expired}, texts[visitors/2:]...)...)

	var frames []*image.Gray
	so := screen.Options{Width: 640, Height: 480}
	for i, text := range texts {
		for j := 0; j < perCode; j++ {
			o := so
			o.DX, o.DY = (i%5-2)*12+j*3, (j%3-1)*6
			img, err := screen.Render(text, o)
			if err != nil {
				return "", 0, err
			}
			frames = append(frames, img)
		}
		for j := 0; j < gap; j++ {
			frames = append(frames, screen.Blank(so))
		}
	}
	if camera.HaveOpenCV {
		p := filepath.Join(dir, "phone.avi")
		if err := camera.WriteVideo(p, frames, 10); err != nil {
			return "", 0, err
		}
		return p, len(frames), nil
	}
	d := filepath.Join(dir, "frames")
	if err := camera.WriteFolder(d, frames); err != nil {
		return "", 0, err
	}
	return "folder:" + d, len(frames), nil
}

func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return errors.Join(fmt.Errorf("write %s", path), err)
	}
	return nil
}
