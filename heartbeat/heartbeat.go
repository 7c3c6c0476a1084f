// Package heartbeat reports a device's health to central: queue depth, the
// age of the oldest unsent scan, the learned clock offset, camera health
// and version. Central's fleet view lists devices whose heartbeat is stale
// or missing, whose clock is skewed, whose camera fails or whose queue
// backs up.
package heartbeat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/central/client"
	"github.com/kipass/kipass/clock"
)

// State is what a device reports.
type State struct {
	// QueueDepth is the number of scans waiting for central.
	QueueDepth int
	// OldestUnsent is the age of the oldest waiting scan (0 when none).
	OldestUnsent time.Duration
	// ClockOffset is the learned offset to central's clock (central − device).
	ClockOffset time.Duration
	// Camera is the camera's health: "ok", "failing", ...; "" when unknown
	// or when the device reads a scan engine.
	Camera string
	// Scanner is the scan engine's state ("open", "disconnected", ...) on
	// a device whose codes come from one; "" on camera devices.
	Scanner string
	// Version is the agent's version; Version() when empty.
	Version string
	// Ledger lists the paper ledger's sheets (dates and counts only).
	Ledger []api.Sheet
}

// Options configure a Sender.
type Options struct {
	// Central sends the heartbeats (required): URL, TLS and credential.
	Central *client.Client
	// Facility and Device identify the device.
	Facility, Device string
	// State returns the current device state; it must be safe to call
	// from the sender's goroutine.
	State func() State
	// Interval between heartbeats; one minute when zero.
	Interval time.Duration
	// Clock is the device clock (the heartbeat carries its raw reading);
	// clock.Real when nil.
	Clock clock.Clock
	// Log receives failures; slog.Default when nil.
	Log *slog.Logger
}

// Sender sends heartbeats.
type Sender struct {
	cfg Options
}

// New returns a Sender.
func New(cfg Options) *Sender {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Minute
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.State == nil {
		cfg.State = func() State { return State{} }
	}
	return &Sender{cfg: cfg}
}

// Version returns the agent's module version from the build information,
// "devel" for a development build.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	// A build from a checkout: the commit it was built from.
	v := "devel"
	var rev, dirty string
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision" && len(s.Value) >= 12:
			rev = s.Value[:12]
		case s.Key == "vcs.modified" && s.Value == "true":
			dirty = "-dirty"
		}
	}
	if rev != "" {
		v += "+" + rev + dirty
	}
	return v
}

// Run sends a heartbeat at once and then every Interval until ctx ends.
// Failures are logged and never end Run; it returns nil when ctx ends.
func (s *Sender) Run(ctx context.Context) error {
	failing := false
	for {
		_, err := s.SendOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case err != nil && !failing:
			level := slog.LevelWarn
			if errors.Is(err, client.ErrPermanent) {
				level = slog.LevelError
			}
			s.cfg.Log.Log(ctx, level, "heartbeat failed", "err", err)
			failing = true
		case err == nil && failing:
			s.cfg.Log.Info("heartbeat delivered again")
			failing = false
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.cfg.Clock.After(s.cfg.Interval):
		}
	}
}

// SendOnce sends one heartbeat and returns central's answer. Errors wrap
// client.ErrRetryable or client.ErrPermanent.
func (s *Sender) SendOnce(ctx context.Context) (api.HeartbeatAck, error) {
	st := s.cfg.State()
	if st.Version == "" {
		st.Version = Version()
	}
	hb := api.Heartbeat{Facility: s.cfg.Facility, Device: s.cfg.Device, DeviceTime: s.cfg.Clock.Now(),
		QueueDepth: st.QueueDepth, OldestUnsentSeconds: st.OldestUnsent.Seconds(),
		ClockOffsetMillis: st.ClockOffset.Milliseconds(), Camera: st.Camera, Scanner: st.Scanner, Version: st.Version, Ledger: st.Ledger}
	var ack api.HeartbeatAck
	if err := s.cfg.Central.Do(ctx, http.MethodPost, api.PathHeartbeat, hb, &ack); err != nil {
		return api.HeartbeatAck{}, fmt.Errorf("heartbeat: %w", err)
	}
	return ack, nil
}
