package agent

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kipass/kipass/audio"
	"github.com/kipass/kipass/camera"
	"github.com/kipass/kipass/clock"
	"github.com/kipass/kipass/decode"
	"github.com/kipass/kipass/queue"
	"github.com/kipass/kipass/token"
	"github.com/kipass/kipass/uplink"
)

// Hooks are optional callbacks for the CLI and the demo.
type Hooks struct {
	// OnScan is called after every verdict.
	OnScan func(Scan)
	// OnSourceEnd is called once when a finite source ends.
	OnSourceEnd func()
	// Clock is the device clock; clock.Real when nil. Tests pass a slowed
	// clock so that 15-second tokens survive a race-enabled build.
	Clock clock.Clock
}

// Open builds an Agent from a config: it opens the frame source, the queue
// file in DataDir, the speaker (silent, with one warning, when there is no
// sound device), the key set and the uplink. Close releases them.
func Open(ctx context.Context, cfg Config, log *slog.Logger, h Hooks) (*Agent, error) {
	if log == nil {
		log = slog.Default()
	}
	var closers []io.Closer
	fail := func(err error) (*Agent, error) {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i].Close()
		}
		return nil, err
	}
	keys, err := token.LoadKeySet(cfg.KeysFile)
	if err != nil {
		return nil, fmt.Errorf("open agent: %w", err)
	}
	if len(keys.Keys()) == 0 {
		log.Warn("issuer key set is empty: every token will be rejected", "keys_file", cfg.KeysFile)
	}
	var credential string
	if cfg.CredentialFile != "" {
		b, err := os.ReadFile(cfg.CredentialFile)
		if err != nil {
			return nil, fmt.Errorf("open agent: credential: %w", err)
		}
		credential = strings.TrimSpace(string(b))
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("open agent: data dir: %w", err)
	}
	q, err := queue.Open(filepath.Join(cfg.DataDir, "queue.db"), queue.Options{MaxRecords: cfg.QueueMax, Log: log.With("room", "queue")})
	if err != nil {
		return nil, fmt.Errorf("open agent: %w", err)
	}
	closers = append(closers, q)

	src, err := camera.Open(ctx, cfg.Source, camera.Options{
		Width: cfg.Camera.Width, Height: cfg.Camera.Height, FPS: cfg.Camera.FPS, FourCC: cfg.Camera.FourCC,
		Logger: log.With("room", "camera"),
	})
	if err != nil {
		return fail(fmt.Errorf("open agent: source: %w", err))
	}
	closers = append(closers, src)

	spk, err := audio.Open(audio.Config{
		Language: cfg.Audio.Language, Volume: cfg.Audio.Volume, Device: cfg.Audio.Device,
		QuietHours: cfg.Audio.QuietHours, Tones: cfg.Audio.Tones, Clips: cfg.Audio.Clips, Command: cfg.Audio.Command,
	}, log.With("room", "audio"))
	if err != nil {
		return fail(fmt.Errorf("open agent: audio: %w", err))
	}
	closers = append(closers, spk)

	client, err := uplink.NewClient(cfg.CentralCAFile, 10*time.Second)
	if err != nil {
		return fail(fmt.Errorf("open agent: %w", err))
	}
	snd := uplink.New(q, uplink.Config{
		URL: strings.TrimRight(cfg.CentralURL, "/"), Credential: credential,
		Client: client, Log: log.With("room", "uplink"),
	})
	a := New(Parts{
		Frames:   src,
		Decoder:  decode.New(decode.Options{}),
		Verifier: token.Verifier{Keys: keys, Skew: time.Duration(cfg.ClockSkew)},
		Store:    q,
		Speaker:  spk,
		Sender:   snd,
	}, Options{
		Facility: cfg.Facility, Device: cfg.Device, DedupWindow: time.Duration(cfg.DedupWindow),
		Clock: h.Clock, Log: log, OnScan: h.OnScan, OnSourceEnd: h.OnSourceEnd,
	})
	a.closers = closers
	return a, nil
}

// NewLogger returns the slog logger the binaries use: text to w at the
// given level ("debug", "info", "warn", "error").
func NewLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}
