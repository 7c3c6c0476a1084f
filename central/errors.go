package central

import "errors"

// Sentinel errors of the central store.
var (
	// ErrBadRequest marks input that will never be accepted (permanent).
	ErrBadRequest = errors.New("bad request")
)
