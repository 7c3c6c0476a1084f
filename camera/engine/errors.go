package engine

import "errors"

// Sentinel errors of the engine package.
var (
	// ErrBadSpec means the spec cannot be parsed. Permanent.
	ErrBadSpec = errors.New("engine: bad scan-engine spec")
	// ErrClosed is returned by Next after Close. Permanent.
	ErrClosed = errors.New("engine: closed")
)
