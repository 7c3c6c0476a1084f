package heartbeat

import "errors"

// Sentinel errors. Every error from SendOnce wraps exactly one of them.
var (
	// ErrRetryable marks failures that may pass later: network errors,
	// timeouts, 5xx and 429 answers.
	ErrRetryable = errors.New("retryable heartbeat failure")
	// ErrPermanent marks answers that will not change by sending again: a
	// revoked or unknown credential, a device mismatch, a bad request.
	ErrPermanent = errors.New("permanent heartbeat failure")
)
