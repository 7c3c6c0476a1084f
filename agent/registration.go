package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/central/client"
	"github.com/kipass/kipass/clock"
	"github.com/kipass/kipass/status"
)

// Registration check: central may answer and still refuse this device (no
// credential where central requires one, an unknown or revoked credential,
// a facility held for approval). Such a device keeps recording scans, but
// can never deliver them, so it must not confirm visits: it says "not
// registered" instead, and its state line says so. "Refused" is a state of
// its own, apart from "central unreachable".

// Periods of the registration check.
const (
	// RegistrationStartTimeout bounds the check Open makes before the
	// first scan; an unanswered check leaves the device "unknown", not refused.
	RegistrationStartTimeout = 3 * time.Second
	// RegistrationRecheck is the period of the check while central accepts
	// the device (a credential may be revoked).
	RegistrationRecheck = 5 * time.Minute
	// RegistrationRetry is the period of the check while central refuses
	// the device or cannot be reached.
	RegistrationRetry = time.Minute
)

// Refused returns central's refusal of this device, nil while central has
// not refused it (accepted, unreachable or not asked yet).
func (a *Agent) Refused() *status.Refusal {
	if a.refusal == nil {
		return nil
	}
	return a.refusal.Load()
}

// registration asks central whether it accepts this device's credential.
type registration struct {
	facility string
	central  *client.Client
	clk      clock.Clock
	log      *slog.Logger
	refusal  *atomic.Pointer[status.Refusal] // the agent's (Agent.Refused)
	answered bool                            // central has answered a check since start
}

// errUnanswered means central gave no usable answer (unreachable, 5xx).
var errUnanswered = errors.New("central did not answer the registration check")

// check asks central once: a refusal (401 or 403), nil when central
// accepts the device, or errUnanswered.
func (r *registration) check(ctx context.Context) (*status.Refusal, error) {
	err := r.central.Do(ctx, http.MethodGet, api.PathCounts+"?facility="+url.QueryEscape(r.facility), nil, nil)
	var ce *client.Error
	switch {
	case err == nil:
		return nil, nil
	case errors.As(err, &ce) && (ce.Status == http.StatusUnauthorized || ce.Status == http.StatusForbidden):
		reason := ce.Reason
		if reason == "" {
			reason = http.StatusText(ce.Status)
		}
		return &status.Refusal{Status: ce.Status, Reason: reason, Since: r.clk.Now()}, nil
	}
	return nil, fmt.Errorf("%w: %w", errUnanswered, err)
}

// apply records the outcome of a check on the agent, logging changes.
func (r *registration) apply(ref *status.Refusal, err error) {
	if err != nil {
		r.log.Debug("registration check unanswered", "err", err)
		return
	}
	r.answered = true
	prev := r.refusal.Load()
	switch {
	case ref != nil && prev == nil:
		r.log.Error("central refuses this device: scans are kept here but cannot be sent, and visits are not confirmed; enroll it (kipass-agent enroll)",
			"status", ref.Status, "reason", ref.Reason)
		r.refusal.Store(ref)
	case ref != nil:
		ref.Since = prev.Since
		r.refusal.Store(ref)
	case prev != nil:
		r.log.Info("central accepts this device again")
		r.refusal.Store(nil)
	}
}

// start makes the first check, bounded by RegistrationStartTimeout, so
// that a refused device knows before its first scan.
func (r *registration) start(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, RegistrationStartTimeout)
	defer cancel()
	r.apply(r.check(cctx))
}

// Run checks again periodically until ctx ends.
func (r *registration) Run(ctx context.Context) error {
	for {
		wait := RegistrationRecheck
		if !r.answered || r.refusal.Load() != nil {
			wait = RegistrationRetry
		}
		select {
		case <-ctx.Done():
			return nil
		case <-r.clk.After(wait):
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		ref, err := r.check(cctx)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		r.apply(ref, err)
	}
}
