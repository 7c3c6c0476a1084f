package queue

import "errors"

// Sentinel errors. ErrFull and ErrClosed are permanent for the scan in hand
// (it is not recorded, and the agent must not confirm it); a wrapped I/O
// error from bbolt during Enqueue is likewise treated as not recorded.
var (
	// ErrFull means the queue holds its maximum number of records.
	ErrFull = errors.New("queue full")
	// ErrClosed means the queue was closed.
	ErrClosed = errors.New("queue closed")
	// ErrCorrupt means a stored record could not be decoded.
	ErrCorrupt = errors.New("corrupt queue record")
)
