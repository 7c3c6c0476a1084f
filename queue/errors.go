package queue

import "errors"

// Sentinel errors. ErrFull and ErrClosed are permanent for the scan in hand
// (it is not recorded, and the agent must not confirm it); a wrapped I/O
// error from bbolt during Enqueue (a full disk, a failing flash) is likewise
// "not recorded" and retryable only in the sense that a later scan may
// succeed once space is freed.
var (
	// ErrFull means the queue holds its maximum number of records.
	ErrFull = errors.New("queue full")
	// ErrClosed means the queue was closed.
	ErrClosed = errors.New("queue closed")
	// ErrCorrupt means a stored record or the file's structure could not be
	// read. Records that cannot be decoded or decrypted are moved aside and
	// counted (Stats.Undecryptable); a damaged file is quarantined by Open.
	ErrCorrupt = errors.New("corrupt queue")
	// ErrKey means the device key file is unusable (wrong size or unreadable).
	ErrKey = errors.New("queue device key")
	// ErrKeyMissing means the queue key is missing while sealed records
	// exist: the queue records nothing (no visitor may be confirmed) until
	// the key is back.
	ErrKeyMissing = errors.New("queue key missing")
)
