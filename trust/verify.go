package trust

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/token"
)

// OpaquePattern names an issuer whose tokens the agent cannot check itself,
// and the pattern its tokens match.
type OpaquePattern struct {
	// Issuer names the issuer (for the log and the status page).
	Issuer string `json:"issuer"`
	// Pattern is a Go regular expression (RE2) that the whole scanned text
	// must match, such as "^NV[0-9A-Z]{32}$".
	Pattern string `json:"pattern"`
}

// VerifierOptions configure a Verifier.
type VerifierOptions struct {
	// Keys is the issuer key set in force (Keys.Set); an empty set when nil.
	Keys *token.KeySet
	// Skew is the allowance on both sides of a token's validity.
	Skew time.Duration
	// Clock says whether corrected time can be trusted; nil means it can.
	Clock *Clock
	// Opaque lists the patterns of opaque tokens.
	Opaque []OpaquePattern
	// Online asks central; nil means offline only (opaque tokens pending).
	Online *Client
	// Timeout bounds an online check; 1.5 s when zero. The visitor waits
	// for it at the door.
	Timeout time.Duration
	// Facility and Device are sent with online checks.
	Facility, Device string
	// OnUnknownKey, when set, is called when a signed token names a key id
	// the set lacks (Keys.Kick fits: the set may be behind a rotation).
	OnUnknownKey func()
	// Log receives online-check failures; slog.Default when nil.
	Log *slog.Logger
}

type opaque struct {
	issuer string
	re     *regexp.Regexp
}

// Verifier judges a scanned text, offline when it can and online when it
// must. It implements the agent's Verifier interface.
//
//   - A KI-Pass token is checked offline against the key set at the
//     corrected time. When the corrected time is not trusted (nothing learned
//     from central, or a device clock reset), a genuine token that fails
//     only on time is recorded as pending rather than rejected; and a token
//     whose key id the set lacks is asked of central, pending when central
//     does not answer.
//   - A text that matches an opaque pattern is asked of central with a short
//     timeout; when central does not answer in time it is recorded as
//     pending, and central gives the verdict later.
//   - Anything else is invalid.
type Verifier struct {
	o      VerifierOptions
	opaque []opaque
}

// NewVerifier compiles the opaque patterns; a bad one is an error wrapping
// ErrPattern that names it.
func NewVerifier(o VerifierOptions) (*Verifier, error) {
	if o.Keys == nil {
		o.Keys = token.NewKeySet()
	}
	if o.Timeout <= 0 {
		o.Timeout = 1500 * time.Millisecond
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	v := &Verifier{o: o}
	for i, p := range o.Opaque {
		if p.Pattern == "" {
			return nil, fmt.Errorf("%w: pattern %d (%s) is empty", ErrPattern, i, p.Issuer)
		}
		re, err := regexp.Compile(p.Pattern)
		if err != nil {
			return nil, fmt.Errorf("%w: pattern %d (%s): %w", ErrPattern, i, p.Issuer, err)
		}
		v.opaque = append(v.opaque, opaque{issuer: p.Issuer, re: re})
	}
	return v, nil
}

// Reasons of pending verdicts and of central's online verdicts.
const (
	// ReasonClockUnsure: a genuine token judged on an untrusted clock.
	ReasonClockUnsure = "clock_unsure"
	// ReasonCentralUnreachable: central did not answer an online check in time.
	ReasonCentralUnreachable = "central_unreachable"
	// ReasonAwaitingIssuer: central has no verdict yet for an opaque token.
	ReasonAwaitingIssuer = "awaiting_issuer"
)

// Check returns the verdict for text at corrected time now, and an error
// explaining anything but a plain offline "verified". token.Reason of the
// error is log-safe.
func (v *Verifier) Check(ctx context.Context, text string, now time.Time) (token.Verdict, error) {
	if !strings.HasPrefix(text, token.Prefix) {
		for _, p := range v.opaque {
			if p.re.MatchString(text) {
				return v.online(ctx, text, p.issuer)
			}
		}
	}
	_, err := token.Verifier{Keys: v.o.Keys, Skew: v.o.Skew}.Verify(text, now)
	switch {
	case err == nil:
		return token.Verified, nil
	case errors.Is(err, token.ErrUnknownKey):
		if v.o.OnUnknownKey != nil {
			v.o.OnUnknownKey()
		}
		if v.o.Online == nil {
			return token.Invalid, err
		}
		return v.online(ctx, text, "kp1")
	case errors.Is(err, token.ErrExpired) || errors.Is(err, token.ErrNotYetValid):
		if v.o.Clock == nil {
			return token.Expired, err
		}
		switch v.o.Clock.Status().Basis {
		case BasisCentral, BasisPersisted:
			return token.Expired, err
		case BasisLowerBound:
			// now is a lower bound of the true time: a token expired at
			// now is expired; one not yet valid may be valid.
			if errors.Is(err, token.ErrExpired) {
				return token.Expired, err
			}
		}
		return token.Pending, &reasonError{reason: ReasonClockUnsure, err: err}
	default:
		return token.VerdictOf(err), err
	}
}

// online asks central, within the timeout, and falls back to pending.
func (v *Verifier) online(ctx context.Context, text, issuer string) (token.Verdict, error) {
	if v.o.Online == nil {
		return token.Pending, &reasonError{reason: ReasonCentralUnreachable, err: errors.New("no central configured")}
	}
	ctx, cancel := context.WithTimeout(ctx, v.o.Timeout)
	defer cancel()
	res, err := v.o.Online.Verify(ctx, api.VerifyRequest{Token: text, Facility: v.o.Facility, Device: v.o.Device})
	if err != nil {
		v.o.Log.Warn("online check failed; scan recorded as pending", "issuer", issuer, "err", err)
		return token.Pending, &reasonError{reason: ReasonCentralUnreachable, err: err}
	}
	reason := res.Reason
	if reason == "" {
		reason = "unspecified"
	}
	switch token.Verdict(res.Verdict) {
	case token.Verified:
		return token.Verified, nil
	case token.Pending:
		return token.Pending, &reasonError{reason: ReasonAwaitingIssuer}
	case token.Invalid, token.Expired:
		return token.Verdict(res.Verdict), &reasonError{reason: "central_" + safeReason(reason)}
	default:
		v.o.Log.Warn("central answered an unknown verdict; scan recorded as pending", "issuer", issuer)
		return token.Pending, &reasonError{reason: ReasonAwaitingIssuer, err: errors.New("unknown verdict from central")}
	}
}

// safeReason keeps a reason from central short and plain, for the log.
func safeReason(s string) string {
	if len(s) > 32 {
		s = s[:32]
	}
	return strings.Map(func(r rune) rune {
		if r == '_' || r == '-' || (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			return r
		}
		return '?'
	}, s)
}
