package trust

import "errors"

// Sentinel errors of the trust package. Errors from central calls wrap
// exactly one of ErrRetryable and ErrPermanent.
var (
	// ErrRetryable marks a central call that may succeed later: a network
	// error, a timeout, a 5xx or 429 answer, an unreadable answer.
	ErrRetryable = errors.New("retryable central failure")
	// ErrPermanent marks a central answer that retrying will not change:
	// a 4xx other than 408 and 429.
	ErrPermanent = errors.New("permanent central failure")
	// ErrEmptyKeySet means central answered a key set without keys; the
	// cached set stays in force (retryable: central may be mid-deploy).
	ErrEmptyKeySet = errors.New("central answered an empty key set")
	// ErrClockState means the persisted clock state file is unreadable;
	// it is ignored and the clock starts unsynced (permanent for that file).
	ErrClockState = errors.New("bad clock state file")
	// ErrPattern means an opaque-token pattern does not compile (permanent
	// until the config is fixed).
	ErrPattern = errors.New("bad opaque-token pattern")
)

// reasonError is a verification outcome with a fixed, log-safe reason that
// token.Reason reports. It never holds token content.
type reasonError struct {
	reason string
	err    error
}

func (e *reasonError) Error() string {
	if e.err == nil {
		return e.reason
	}
	return e.reason + ": " + e.err.Error()
}

// Reason returns the log-safe reason.
func (e *reasonError) Reason() string { return e.reason }

// Unwrap returns the underlying error.
func (e *reasonError) Unwrap() error { return e.err }

// callError is a failed central call with its class.
type callError struct {
	op    string
	class error
	err   error
}

func (e *callError) Error() string { return e.op + ": " + e.err.Error() }

// Is reports the error's class.
func (e *callError) Is(target error) bool { return target == e.class }

// Unwrap returns the underlying error.
func (e *callError) Unwrap() error { return e.err }
