package token

import (
	"context"
	"errors"
	"time"
)

// Verdict is the outcome of checking a scanned code, as spoken at the door
// and recorded in the queue.
type Verdict string

// The verdicts. Only Verified and Pending scans are recorded.
const (
	// Verified: a valid token, checked offline.
	Verified Verdict = "verified"
	// Pending: recorded, awaiting central's verdict (opaque tokens offline).
	Pending Verdict = "pending"
	// Invalid: not a KI-Pass token, or one that fails verification.
	Invalid Verdict = "invalid"
	// Expired: a genuine token past its validity.
	Expired Verdict = "expired"
)

// Recorded reports whether scans with this verdict are stored and forwarded.
func (v Verdict) Recorded() bool { return v == Verified || v == Pending }

// VerdictOf maps a Verify error to a verdict: nil is Verified, ErrExpired and
// ErrNotYetValid are Expired (show a fresh code), anything else is Invalid.
func VerdictOf(err error) Verdict {
	switch {
	case err == nil:
		return Verified
	case errors.Is(err, ErrExpired), errors.Is(err, ErrNotYetValid):
		return Expired
	default:
		return Invalid
	}
}

// Reason is a short, fixed, log-safe name for a verification error: it never
// contains token content. An error in the chain with a method Reason() string
// (such as the trust package's online and clock errors) names itself.
func Reason(err error) string {
	var named interface{ Reason() string }
	if errors.As(err, &named) {
		return named.Reason()
	}
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.name
		}
	}
	if err == nil {
		return "ok"
	}
	return "error"
}

var reasons = []struct {
	err  error
	name string
}{
	{ErrNotToken, "not_token"},
	{ErrVersion, "version"},
	{ErrOversize, "oversize"},
	{ErrNotUTF8, "not_utf8"},
	{ErrEncoding, "encoding"},
	{ErrMalformed, "malformed"},
	{ErrUnknownKey, "unknown_key"},
	{ErrRevokedKey, "revoked_key"},
	{ErrSignature, "signature"},
	{ErrExpired, "expired"},
	{ErrNotYetValid, "not_yet_valid"},
}

// Check verifies text at the (corrected) time now and returns the verdict
// with the error that explains it. Offline verification never needs ctx; it
// is there so that online checkers share the signature.
func (v Verifier) Check(_ context.Context, text string, now time.Time) (Verdict, error) {
	_, err := v.Verify(text, now)
	return VerdictOf(err), err
}
