package agent

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"time"

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
	// learnReal takes samples stamped with the real clock (the uplink's).
	learnReal func(sent, received, server time.Time)
}

// runFunc adapts a function to Runner.
type runFunc func(ctx context.Context) error

func (f runFunc) Run(ctx context.Context) error { return f(ctx) }

// openTrust builds the trust state: the clock offset persisted in DataDir,
// the key set cached in KeysFile (fetched once now when the cache is empty)
// and the verifier. hc is the HTTP client for central (system roots or the
// pinned CA); dev is the device clock (clock.Real when nil).
func openTrust(ctx context.Context, cfg Config, credential string, hc *http.Client, dev clock.Clock, log *slog.Logger) (*trustParts, error) {
	if dev == nil {
		dev = clock.Real{}
	}
	clk := trust.OpenClock(trust.ClockOptions{
		Path: filepath.Join(cfg.DataDir, "clock.json"), Tolerance: time.Duration(cfg.ClockTolerance),
		Device: dev, Log: log,
	})
	client := &trust.Client{
		URL: strings.TrimRight(cfg.CentralURL, "/"), Credential: credential,
		HTTP: hc, Device: dev,
		OnServerTime: func(sent, received, server time.Time) { clk.Learn(sent, received, server) },
	}
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
	return &trustParts{clock: clk, keys: keys, verifier: v, learnReal: learnFunc(clk, dev), runners: []Runner{
		keys,
		runFunc(func(ctx context.Context) error { return clk.Run(ctx, client, 0) }),
	}}, nil
}

// learnFunc returns the hook through which answers stamped with the real
// clock (the uplink's) teach clk central's time: the readings are
// translated to dev when dev is another clock (the demo's slowed clock).
func learnFunc(clk *trust.Clock, dev clock.Clock) func(sent, received, server time.Time) {
	if _, real := dev.(clock.Real); real {
		return func(sent, received, server time.Time) { clk.Learn(sent, received, server) }
	}
	return func(sent, received, server time.Time) {
		r := dev.Now()
		clk.Learn(r.Add(-received.Sub(sent)), r, server)
	}
}

// TrustStatus is the agent's trust state for the status page.
type TrustStatus struct {
	// Clock is the offset to central's clock and the "check the clock" alarm.
	Clock trust.ClockStatus `json:"clock"`
	// Keys is the issuer key set in force.
	Keys trust.KeysStatus `json:"keys"`
}

// Trust reports the clock and key set state of an agent built by Open
// (the zero value for one built by New).
func (a *Agent) Trust() TrustStatus {
	if a.trust == nil {
		return TrustStatus{}
	}
	return TrustStatus{Clock: a.trust.clock.Status(), Keys: a.trust.keys.Status()}
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
