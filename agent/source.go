package agent

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/kipass/kipass/camera"
	"github.com/kipass/kipass/camera/engine"
	"github.com/kipass/kipass/clock"
)

// Codes is a source of texts a scan engine already decoded (a PDA's
// built-in engine, a serial or keyboard-wedge scanner, stdin lines).
type Codes interface {
	// Next blocks for the next code; io.EOF ends a finite source.
	Next(ctx context.Context) (engine.Code, error)
	// Close releases the source.
	Close() error
}

// isEngineSpec reports whether a source spec names a scan engine rather
// than a frame source.
func isEngineSpec(spec string) bool {
	return spec == "stdin" || strings.HasPrefix(spec, "serial:") || strings.HasPrefix(spec, "evdev:")
}

// NeedsOpenCV reports whether the configured source is a camera read
// through OpenCV (a device, video, RTSP or HTTP stream, GStreamer
// pipeline); image folders, MJPEG streams and scan engines are read in
// pure Go.
func (c Config) NeedsOpenCV() bool {
	return !isEngineSpec(c.Source) && camera.NeedsOpenCV(c.Source)
}

// source is what openSource opened: frames from a camera, or codes from a
// scan engine, and the health of either.
type source struct {
	frames Frames
	codes  Codes
	live   *camera.Live
	health func() camera.Health
}

// Close closes whichever source was opened.
func (s *source) Close() error {
	if s.frames != nil {
		return s.frames.Close()
	}
	if s.codes != nil {
		return s.codes.Close()
	}
	return nil
}

// CameraHealth reports the source's own health for the status page:
// "ok", "starting" (not opened yet), "watching" (a watched folder with no
// new image), "reopening" or "absent", with the reason when one of the
// last two.
func (s *source) CameraHealth() (state, problem string) {
	if s.health == nil {
		return "ok", ""
	}
	h := s.health()
	if h.State == camera.StateStarting {
		return h.State.String(), "" // not opened yet: no problem
	}
	if h.State == camera.StateOK {
		return h.State.String(), ""
	}
	return h.State.String(), h.Reason
}

// noteCode tells a camera that a code was seen, so a low-power camera
// returns to its full frame rate.
func (s *source) noteCode() {
	if s.live != nil {
		s.live.NoteCode()
	}
}

// openSource opens the configured source: a self-healing camera (devices,
// files, URLs, folders; a folder watched for new images when watchFolder)
// or a scan engine, on the device clock clk (frames and codes are stamped
// by it). A missing camera is not an error here: it is reopened
// with backoff and reported as absent.
func openSource(ctx context.Context, cfg Config, clk clock.Clock, watchFolder bool, log *slog.Logger) (*source, error) {
	if isEngineSpec(cfg.Source) {
		codes, err := engine.Open(ctx, cfg.Source, engine.Options{
			DedupWindow: time.Duration(cfg.DedupWindow), Clock: clk, Log: log,
		})
		if err != nil {
			return nil, fmt.Errorf("scan engine %q: %w", camera.Redact(cfg.Source), err)
		}
		s := &source{codes: codes}
		if hr, ok := codes.(engine.HealthReporter); ok {
			s.health = hr.Health
		}
		return s, nil
	}
	focus, err := parseFocus(cfg.Camera.Focus)
	if err != nil {
		return nil, err
	}
	exposure, err := parseExposure(cfg.Camera.Exposure)
	if err != nil {
		return nil, err
	}
	live, err := camera.OpenLive(cfg.Source, camera.Options{
		Width: cfg.Camera.Width, Height: cfg.Camera.Height, FPS: cfg.Camera.FPS, FourCC: cfg.Camera.FourCC,
		Focus: focus, FocusDistance: cfg.Camera.FocusDistance, Exposure: exposure,
		IdleAfter: time.Duration(cfg.Camera.IdleAfter), DebugSnapshotDir: cfg.Camera.DebugSnapshotDir,
		WatchFolder: watchFolder, Clock: clk, Log: log,
	})
	if err != nil {
		return nil, fmt.Errorf("camera %q: %w", camera.Redact(cfg.Source), err)
	}
	return &source{frames: live, live: live, health: live.Health}, nil
}

func parseFocus(s string) (camera.FocusMode, error) {
	switch s {
	case "", "driver":
		return camera.FocusDriver, nil
	case "auto":
		return camera.FocusAuto, nil
	case "fixed":
		return camera.FocusFixed, nil
	}
	return 0, fmt.Errorf("key \"camera.focus\": %q is not driver, auto or fixed", s)
}

func parseExposure(s string) (camera.ExposureMode, error) {
	switch s {
	case "", "driver":
		return camera.ExposureDriver, nil
	case "auto":
		return camera.ExposureAuto, nil
	case "glare":
		return camera.ExposureGlare, nil
	}
	return 0, fmt.Errorf("key \"camera.exposure\": %q is not driver, auto or glare", s)
}

// codeLoop judges codes from a scan engine until ctx ends. Engine
// failures are retried inside the engine and again here.
func (a *Agent) codeLoop(ctx context.Context) error {
	return a.pump(ctx, "scan engine", func(ctx context.Context) error {
		c, err := a.p.Codes.Next(ctx)
		if err != nil {
			return err
		}
		a.HandleText(ctx, c.Text, c.At)
		return nil
	})
}
