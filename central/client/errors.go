package client

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// The one retryable/permanent pair of the repository. Every *Error matches
// exactly one of them with errors.Is; a caller that fails for its own
// reasons wraps one of them too (fmt.Errorf("…: %w: %w", ErrRetryable, err)).
var (
	// ErrRetryable marks a failure that may pass later: no answer
	// (network, timeout), a 5xx, 429 or 408 answer, an unreadable answer.
	ErrRetryable = errors.New("retryable")
	// ErrPermanent marks a failure that asking again will not change: a
	// 4xx answer other than 408 and 429, a request that cannot be built.
	ErrPermanent = errors.New("permanent")
)

// Error is a failed call to central.
type Error struct {
	// Op is the method and path, such as "POST /v1/scans".
	Op string
	// Status is central's HTTP status; 0 when no whole answer arrived.
	Status int
	// Reason is the machine-readable reason of central's error body
	// ("revoked", "bad_json", …), "" when there was none.
	Reason string
	// Message is the human-readable message of central's error body.
	Message string
	// RetryAfter is the delay central asked for (Retry-After), 0 when none.
	RetryAfter time.Duration
	// Retryable reports whether the same call may pass later.
	Retryable bool
	// Err is the underlying failure when central did not answer with an
	// error status (network, encoding, decoding).
	Err error
}

// Error describes the failure for a log or an operator; it holds no
// credential and no token.
func (e *Error) Error() string {
	switch {
	case e.Unreachable() && e.Err != nil:
		return e.Op + ": central unreachable: " + e.Err.Error()
	case e.Err != nil:
		return e.Op + ": " + e.Err.Error()
	case e.Reason != "":
		return fmt.Sprintf("%s: central refused: %s (%s, HTTP %d)", e.Op, e.Message, e.Reason, e.Status)
	default:
		return fmt.Sprintf("%s: central answered %d %s", e.Op, e.Status, http.StatusText(e.Status))
	}
}

// Unwrap returns the underlying failure.
func (e *Error) Unwrap() error { return e.Err }

// Is matches ErrRetryable or ErrPermanent, whichever e is.
func (e *Error) Is(target error) bool {
	return (target == ErrRetryable && e.Retryable) || (target == ErrPermanent && !e.Retryable)
}

// Unreachable reports whether central could not be reached at all: no
// HTTP answer arrived (no route, refused, reset, timeout).
func (e *Error) Unreachable() bool { return e.Status == 0 && e.Retryable }

// Retryable reports whether err may pass when tried again: it wraps
// ErrRetryable.
func Retryable(err error) bool { return errors.Is(err, ErrRetryable) }

// Unreachable reports whether err is a call that reached no central.
func Unreachable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Unreachable()
}

// RetryAfter returns the delay central asked for in err, 0 when none.
func RetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}
