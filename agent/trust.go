package agent

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/kipass/kipass/central/client"
	"github.com/kipass/kipass/clock"
	"github.com/kipass/kipass/trust"
)

// trustParts are the agent's trust state: the clock offset to central, the
// issuer key set and the verifier built on them.
type trustParts struct {
	clock    *trust.Clock
	keys     *trust.Keys
	verifier *trust.Verifier
	runners  []Runner
}

// runFunc adapts a function to Runner.
type runFunc func(ctx context.Context) error

func (f runFunc) Run(ctx context.Context) error { return f(ctx) }

// openClock opens the offset to central's clock, persisted in DataDir; dev
// is the device clock.
func openClock(cfg Config, dev clock.Clock, log *slog.Logger) *trust.Clock {
	return trust.OpenClock(trust.ClockOptions{
		Path: filepath.Join(cfg.DataDir, "clock.json"), Tolerance: time.Duration(cfg.ClockTolerance),
		Device: dev, Log: log,
	})
}

// openTrust builds the rest of the trust state on clk: the key set cached
// in KeysFile (fetched once now when the cache is empty) and the verifier.
// central is the one client for central; its answers teach clk; dev is the
// device clock.
func openTrust(ctx context.Context, cfg Config, clk *trust.Clock, central *client.Client, dev clock.Clock, log *slog.Logger) (*trustParts, error) {
	client := &trust.Client{Central: central}
	keys, err := trust.OpenKeys(trust.KeysOptions{
		Path: cfg.KeysFile, Client: client, Refresh: time.Duration(cfg.KeysRefresh), Clock: dev, Log: log,
	})
	if err != nil {
		return nil, fmt.Errorf("trust: %w", err)
	}
	if keys.Status().Keys == 0 {
		if err := keys.Fetch(ctx); err != nil {
			log.Warn("no issuer keys: signed tokens are recorded as pending or rejected until central answers", "err", err)
		}
	}
	v, err := trust.NewVerifier(trust.VerifierOptions{
		Keys: keys.Set(), Skew: time.Duration(cfg.ClockSkew), Clock: clk, Opaque: cfg.Opaque,
		Online: client, Timeout: time.Duration(cfg.VerifyTimeout), Facility: cfg.Facility, Device: cfg.Device,
		OnUnknownKey: keys.Kick, Log: log,
	})
	if err != nil {
		return nil, fmt.Errorf("trust: %w", err)
	}
	return &trustParts{clock: clk, keys: keys, verifier: v, runners: []Runner{
		keys,
		runFunc(func(ctx context.Context) error { return clk.Run(ctx, client, 0) }),
	}}, nil
}

// TrustStatus is the agent's trust state for the status page.
type TrustStatus struct {
	// Clock is the offset to central's clock and the "check the clock" alarm.
	Clock trust.ClockStatus `json:"clock"`
	// Keys is the issuer key set in force.
	Keys trust.KeysStatus `json:"keys"`
}

// Trust reports the clock and key set state (the zero value for an agent
// built without Parts.Trust).
func (a *Agent) Trust() TrustStatus {
	if a.p.Trust == nil {
		return TrustStatus{}
	}
	return a.p.Trust.TrustStatus()
}

// TrustStatus reports the clock offset and the key set in force.
func (t *trustParts) TrustStatus() TrustStatus {
	return TrustStatus{Clock: t.clock.Status(), Keys: t.keys.Status()}
}

// ClockHealth reports the learned offset to central's clock and the "check
// the clock" alarm, for the status page and metrics.
func (t *trustParts) ClockHealth() (offset time.Duration, known bool, problem string) {
	st := t.clock.Status()
	if st.Alarm {
		problem = st.AlarmReason
	}
	return st.Offset, st.Basis.Trusted(), problem
}
