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
	"github.com/kipass/kipass/clock"
	"github.com/kipass/kipass/decode"
	"github.com/kipass/kipass/heartbeat"
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
	src, err := openSource(ctx, cfg, log.With("room", "camera"))
	if err != nil {
		return fail(fmt.Errorf("open agent: source: %w", err))
	}
	closers = append(closers, src)

	obs := newObserver(cfg, h.Clock)
	applySettings(&cfg, log)
	spk, err := audio.Open(audio.Config{
		Language: cfg.Audio.Language, Volume: cfg.Audio.Volume, Device: cfg.Audio.Device,
		QuietHours: cfg.Audio.QuietHours, Tones: cfg.Audio.Tones, Clips: cfg.Audio.Clips, Command: cfg.Audio.Command,
	}, log.With("room", "audio"))
	if err != nil {
		return fail(fmt.Errorf("open agent: audio: %w", err))
	}
	closers = append(closers, spk)

	// One client for everything sent to central (keys, time, online
	// checks, batches, heartbeats): system roots, or the pinned CA.
	central, err := uplink.NewClient(cfg.CentralCAFile, 10*time.Second)
	if err != nil {
		return fail(fmt.Errorf("open agent: %w", err))
	}
	centralURL := strings.TrimRight(cfg.CentralURL, "/")
	tr, err := openTrust(ctx, cfg, credential, central, h.Clock, log.With("room", "trust"))
	if err != nil {
		return fail(fmt.Errorf("open agent: %w", err))
	}
	// The queue stamps and ages records on trust's corrected clock.
	q, err := queue.Open(filepath.Join(cfg.DataDir, "queue.db"), queue.Options{
		MaxRecords: cfg.QueueMax, Clock: h.Clock, KeyFile: queueKeyFile(cfg), Time: queueTime{clk: tr.clock, ClockTime: queue.ClockTime{Clock: h.Clock}},
		IssuedAt: tokenIssuedAt, Log: log.With("room", "queue"),
	})
	if err != nil {
		return fail(fmt.Errorf("open agent: %w", err))
	}
	closers = append(closers, q)
	watched := *central // the uplink's batches also feed the status page
	watched.Transport = uplinkWatch{central.Transport, obs}
	snd := uplink.New(q, uplink.Config{
		URL: centralURL, Credential: credential,
		Client:       &watched,
		Log:          log.With("room", "uplink"),
		OnServerTime: tr.learnReal,
	})
	// The decoder asks a live camera to refocus when codes are seen but
	// not read; it skips frames clearly blurrier than recent ones.
	decOpts := decode.Options{Budget: time.Duration(cfg.DecodeBudget), SkipBlurry: src.live != nil,
		Clock: h.Clock, Logger: log.With("room", "decode")}
	if src.live != nil {
		decOpts.Focuser = src.live
	}
	dec := decode.New(decOpts)
	closers = append(closers, dec)
	var a *Agent // the heartbeat reads a.Snapshot() once Run starts
	hb := heartbeat.New(heartbeat.Config{
		URL: centralURL, Credential: credential, Facility: cfg.Facility, Device: cfg.Device,
		Client: central, Clock: h.Clock, Log: log.With("room", "heartbeat"),
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
	if err := a.openLedger(cfg, q, tr.clock); err != nil {
		return fail(err)
	}
	a.o.OnScan = obs.onScan(a, h.OnScan)
	a.admin = queueAdmin{q}
	a.obs, obs.metrics = obs, status.NewMetrics(a)
	if credential != "" {
		obs.facilityStats = &facilityStats{url: centralURL, credential: credential, facility: cfg.Facility, client: central, clk: obs.clk}
	}
	if err := a.openStatus(cfg, log); err != nil {
		return fail(err)
	}
	a.closers = closers
	a.trust = tr
	if src.frames != nil {
		a.p.Frames = watchedFrames{src.frames, obs}
	}
	a.SetWatch(Watch{Clock: tr, Camera: src, Storage: q, Counts: queueCounts{q, cfg.Device}})
	if src.codes != nil {
		obs.scanner = newScanWatch(cfg.Source, src, obs.clk)
		a.p.Codes = watchedCodes{src.codes, obs.scanner}
	}
	reg := &registration{url: centralURL, credential: credential, facility: cfg.Facility, client: central,
		clk: obs.clk, log: log.With("room", "registration"), a: a}
	reg.start(ctx)
	a.p.Background = append(a.p.Background, reg)
	return a, nil
}

// NewLogger returns the slog logger the binaries use: text to w at the
// given level ("debug", "info", "warn", "error"), times in KST.
func NewLogger(w io.Writer, level string) *slog.Logger { return NewFormatLogger(w, level, "text") }
