package uplink

import (
	"errors"
	"time"
)

// Sentinel errors. Every error from a send wraps exactly one of ErrRetryable
// and ErrPermanent, so callers can tell which with errors.Is.
var (
	// ErrRetryable marks failures that may succeed later: network errors,
	// timeouts, 5xx and 429 answers. The records stay queued.
	ErrRetryable = errors.New("retryable uplink failure")
	// ErrPermanent marks answers that will not change by retrying the same
	// request: a 4xx other than 408 and 429. The records still stay queued
	// (never lost); the sender backs off to its maximum and logs an error.
	ErrPermanent = errors.New("permanent uplink failure")
)

// sendError carries the class of a failure and an optional Retry-After.
type sendError struct {
	op         string
	class      error
	err        error
	retryAfter time.Duration
	// network marks a failure to reach central at all (no HTTP answer).
	network bool
	// status is central's HTTP status, 0 when there was no answer.
	status int
}

func (e *sendError) Error() string {
	if e.err == nil {
		return e.op + ": " + e.class.Error()
	}
	return e.op + ": " + e.err.Error()
}

// Is reports the error's class.
func (e *sendError) Is(target error) bool { return target == e.class }

// Unwrap returns the underlying error.
func (e *sendError) Unwrap() error { return e.err }
