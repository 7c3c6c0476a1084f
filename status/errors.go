package status

import "errors"

// Sentinel errors of the status page.
var (
	// ErrCounts means the visitor counts could not be read (retryable: the
	// page shows the rest and tries again on the next request).
	ErrCounts = errors.New("visitor counts unavailable")
	// ErrConfig means the server options are wrong (permanent until fixed).
	ErrConfig = errors.New("status config")
	// ErrPIN means the manager PIN was wrong.
	ErrPIN = errors.New("wrong manager PIN")
	// ErrLocked means too many wrong PINs: settings are locked for a while.
	ErrLocked = errors.New("settings locked after wrong PINs")
	// ErrSettings means a setting has a bad value; the error names it.
	ErrSettings = errors.New("bad setting")
)
