package decode

import "errors"

// ErrNoCode means no QR code could be read in the frame. It is not a fault:
// the caller moves on to the next frame (retryable by nature).
var ErrNoCode = errors.New("no code")

// ErrSkipped means the frame was not decoded because it was clearly blurrier
// than recent frames (autofocus still hunting). It wraps ErrNoCode.
var ErrSkipped = errors.New("skipped blurry frame")
