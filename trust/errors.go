package trust

import "errors"

// Sentinel errors of the trust package. Errors from central calls wrap
// exactly one of client.ErrRetryable and client.ErrPermanent.
var (
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
