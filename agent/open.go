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
	"github.com/kipass/kipass/central/client"
	"github.com/kipass/kipass/clock"
	"github.com/kipass/kipass/decode"
	"github.com/kipass/kipass/heartbeat"
	"github.com/kipass/kipass/logging"
	"github.com/kipass/kipass/queue"
	"github.com/kipass/kipass/status"
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
	q, err := queue.Open(filepath.Join(cfg.DataDir, "queue.db"), queue.Options{MaxRecords: cfg.QueueMax, Log: logging.For(log, "queue")})
	if err != nil {
		return nil, fmt.Errorf("open agent: %w", err)
	}
	closers = append(closers, q)

	src, err := openSource(ctx, cfg, logging.For(log, "camera"))
	if err != nil {
		return fail(fmt.Errorf("open agent: source: %w", err))
	}
	closers = append(closers, src)

	obs := newObserver(cfg, h.Clock)
	applySettings(&cfg, log)
	spk, err := audio.Open(audio.Config{
		Language: cfg.Audio.Language, Volume: cfg.Audio.Volume, Device: cfg.Audio.Device,
		QuietHours: cfg.Audio.QuietHours, Tones: cfg.Audio.Tones, Clips: cfg.Audio.Clips, Command: cfg.Audio.Command,
	}, logging.For(log, "audio"))
	if err != nil {
		return fail(fmt.Errorf("open agent: audio: %w", err))
	}
	closers = append(closers, spk)

	dev := h.Clock
	if dev == nil {
		dev = clock.Real{}
	}
	clk := openClock(cfg, dev, logging.For(log, "trust"))
	// One client for everything sent to central (keys, time, online
	// checks, batches, heartbeats): system roots or the pinned CA, and
	// every answer carrying central's clock teaches clk.
	central, err := client.New(client.Options{
		URL: cfg.CentralURL, Credential: credential, CAFile: cfg.CentralCAFile, InsecureHTTP: cfg.InsecureHTTP,
		Clock: dev, OnServerTime: func(sent, received, server time.Time) { clk.Learn(sent, received, server) },
	})
	if err != nil {
		return fail(fmt.Errorf("open agent: %w: %w", ErrConfig, err))
	}
	tr, err := openTrust(ctx, cfg, clk, central, dev, logging.For(log, "trust"))
	if err != nil {
		return fail(fmt.Errorf("open agent: %w", err))
	}
	snd := uplink.New(q, uplink.Options{Central: central, Clock: dev, Log: logging.For(log, "uplink")})
	// The decoder asks a live camera to refocus when codes are seen but
	// not read; it skips frames clearly blurrier than recent ones.
	decOpts := decode.Options{Budget: time.Duration(cfg.DecodeBudget), SkipBlurry: src.live != nil,
		Clock: h.Clock, Logger: logging.For(log, "decode")}
	if src.live != nil {
		decOpts.Focuser = src.live
	}
	dec := decode.New(decOpts)
	closers = append(closers, dec)
	var a *Agent // the heartbeat reads a.Snapshot() once Run starts
	hb := heartbeat.New(heartbeat.Options{
		Central: central, Facility: cfg.Facility, Device: cfg.Device,
		Clock: dev, Log: logging.For(log, "heartbeat"),
		State: func() heartbeat.State { return heartbeatState(a.Snapshot()) },
	})
	a = New(Parts{
		Codes:      src.codes,
		Decoder:    timedDecoder{dec, obs},
		Verifier:   tr.verifier,
		Store:      q,
		Speaker:    spk,
		Sender:     snd,
		Background: append(tr.runners, hb, q), // q: the queue's 28-day purge
	}, Options{
		Facility: cfg.Facility, Device: cfg.Device, DedupWindow: time.Duration(cfg.DedupWindow),
		Clock: h.Clock, Time: tr.clock, Log: log, OnSourceEnd: h.OnSourceEnd, OnCode: src.noteCode,
	})
	a.o.OnScan = obs.onScan(a, h.OnScan)
	a.obs, obs.metrics = obs, status.NewMetrics(a)
	if err := a.openStatus(cfg, log); err != nil {
		return fail(err)
	}
	a.closers = closers
	a.trust = tr
	if src.frames != nil {
		a.p.Frames = watchedFrames{src.frames, obs}
	}
	a.SetWatch(Watch{Clock: tr, Camera: src, Storage: q, Counts: queueCounts{q, cfg.Device}})
	return a, nil
}
