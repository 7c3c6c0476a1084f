package agent

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
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
	// FolderOnce reads a "folder:DIR" source's images once, then the source
	// ends (the demo, tests). Without it the daemon watches the folder for
	// images added later, and an empty folder is waiting, not a fault.
	FolderOnce bool
	// Clock is the device clock; clock.Real when nil. Tests pass a slowed
	// clock so that 15-second tokens survive a race-enabled build.
	Clock clock.Clock
}

// Open builds an Agent from a config: it opens the frame source, the queue
// file in DataDir, the speaker (silent, with one warning, when there is no
// sound device), the trust state, the one client for central, the uplink
// and the heartbeat, then wires them with New. One device clock flows to
// every part; the queue stamps records with the trust clock's corrected
// time; the paper ledger's sheets age on it too. Close releases what Open
// opened.
func Open(ctx context.Context, cfg Config, log *slog.Logger, h Hooks) (*Agent, error) {
	if log == nil {
		log = slog.Default()
	}
	var owned []io.Closer
	fail := func(err error) (*Agent, error) {
		for i := len(owned) - 1; i >= 0; i-- {
			owned[i].Close()
		}
		return nil, fmt.Errorf("open agent: %w", err)
	}
	dev := h.Clock
	if dev == nil {
		dev = clock.Real{}
	}
	var credential string
	if cfg.CredentialFile != "" {
		b, err := os.ReadFile(cfg.CredentialFile)
		if err != nil {
			return fail(fmt.Errorf("credential: %w", err))
		}
		credential = strings.TrimSpace(string(b))
	}
	var pin string
	if cfg.Status.PINFile != "" && cfg.Status.Listen != StatusOff && cfg.Status.Listen != "" {
		p, err := status.LoadPIN(cfg.Status.PINFile)
		if err != nil {
			return fail(fmt.Errorf("%w: status.pin_file: %w", ErrConfig, err))
		}
		pin = p
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fail(fmt.Errorf("data dir: %w", err))
	}
	trustLog := logging.For(log, "trust")
	clk := openClock(cfg, dev, trustLog)
	// One client for everything sent to central (keys, time, online
	// checks, batches, heartbeats): system roots or the pinned CA, and
	// every answer carrying central's clock teaches clk.
	central, err := client.New(client.Options{
		URL: cfg.CentralURL, Credential: credential, CAFile: cfg.CentralCAFile, InsecureHTTP: cfg.InsecureHTTP,
		Clock: dev, OnServerTime: func(sent, received, server time.Time) { clk.Learn(sent, received, server) },
	})
	if err != nil {
		return fail(fmt.Errorf("%w: %w", ErrConfig, err))
	}

	// The queue stamps and ages records on trust's corrected clock.
	q, err := queue.Open(filepath.Join(cfg.DataDir, "queue.db"), queue.Options{
		MaxRecords: cfg.QueueMax, Clock: dev, KeyFile: queueKeyFile(cfg), Time: queueTime{clk: clk, ClockTime: queue.ClockTime{Clock: dev}},
		IssuedAt: tokenIssuedAt, Log: logging.For(log, "queue"),
	})
	if err != nil {
		return fail(err)
	}
	owned = append(owned, q)

	src, err := openSource(ctx, cfg, dev, !h.FolderOnce, logging.For(log, "camera"))
	if err != nil {
		return fail(fmt.Errorf("source: %w", err))
	}
	owned = append(owned, src)

	applySettings(&cfg, log)
	spk, err := audio.Open(audio.Options{
		Language: cfg.Audio.Language, Volume: cfg.Audio.Volume, Device: cfg.Audio.Device,
		QuietHours: cfg.Audio.QuietHours, Tones: cfg.Audio.Tones, Clips: cfg.Audio.Clips, Command: cfg.Audio.Command,
	}, logging.For(log, "audio"))
	if err != nil {
		return fail(fmt.Errorf("audio: %w", err))
	}
	owned = append(owned, spk)

	tr, err := openTrust(ctx, cfg, clk, central, dev, trustLog)
	if err != nil {
		return fail(err)
	}
	snd := uplink.New(q, uplink.Options{Central: central, Clock: dev, Log: logging.For(log, "uplink")})
	// The decoder asks a live camera to refocus when codes are seen but
	// not read; it skips frames clearly blurrier than recent ones. On
	// consecutive frames it runs in stream mode: a frame's work is bounded
	// by the frame interval, and the costly stages are spread over the
	// next frames, where the code still is.
	decOpts := decode.Options{Budget: time.Duration(cfg.DecodeBudget), SkipBlurry: src.live != nil,
		Clock: dev, Log: logging.For(log, "decode")}
	if src.live != nil {
		decOpts.Focuser = src.live
		if src.live.Consecutive() {
			decOpts.Stream = true
			if decOpts.Budget == 0 {
				decOpts.Budget = frameInterval(cfg.Camera.FPS)
			}
		}
	}
	dec := decode.New(decOpts)
	owned = append(owned, dec)
	led, err := openLedger(cfg, q, clk.Corrected())
	if err != nil {
		return fail(err)
	}

	// Central's answer to this device's credential, checked once now so
	// that a refused device knows before its first scan, then again in
	// the background.
	refusal := new(atomic.Pointer[status.Refusal])
	reg := &registration{facility: cfg.Facility, central: central, clk: dev,
		log: logging.For(log, "registration"), refusal: refusal}
	reg.start(ctx)
	var facility *facilityStats
	if credential != "" {
		facility = &facilityStats{facility: cfg.Facility, central: central, clk: dev}
	}
	codes, scanner := src.codes, (*scanWatch)(nil)
	if src.codes != nil {
		scanner = newScanWatch(cfg.Source, src, dev)
		codes = watchedCodes{src.codes, scanner}
	}

	a, err := New(Parts{
		Frames:     src.frames,
		Codes:      codes,
		Decoder:    dec,
		Verifier:   tr.verifier,
		Store:      q,
		Speaker:    spk,
		Sender:     snd,
		Ledger:     led,
		Background: append(tr.runners, q, reg), // q: the queue's 28-day purge
		Watch:      Watch{Clock: tr, Camera: src, Storage: q, Counts: queueCounts{q, cfg.Device}},
		Trust:      tr,
		Owned:      owned,
	}, Options{
		Facility: cfg.Facility, Device: cfg.Device, Entrance: cfg.Entrance, QueueMax: cfg.QueueMax,
		DedupWindow: time.Duration(cfg.DedupWindow), Clock: dev, Time: tr.clock, Log: log,
		OnScan: h.OnScan, OnSourceEnd: h.OnSourceEnd, OnCode: src.noteCode,
		Status: StatusOptions{Listen: cfg.Status.Listen, PIN: pin, Language: cfg.Status.Language, Settings: SettingsStore(cfg),
			Queue: queueAdmin{q}},
		facility: facility, scanner: scanner, refusal: refusal,
		Heartbeat: heartbeat.Options{Central: central, Facility: cfg.Facility, Device: cfg.Device,
			Clock: dev, Log: logging.For(log, "heartbeat")},
	})
	if err != nil {
		return fail(err)
	}
	return a, nil
}

// frameInterval is the time between two frames at fps, or at 30 fps (a
// camera driver's usual default) when fps is not set.
func frameInterval(fps float64) time.Duration {
	if fps <= 0 {
		fps = 30
	}
	return time.Duration(float64(time.Second) / fps)
}
