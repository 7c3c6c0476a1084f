package audio

import "errors"

// Sentinel errors of package audio. All of them are permanent: retrying with
// the same input gives the same result. A missing or failing sound device is
// never an error (Open falls back to a silent speaker).
var (
	// ErrConfig reports a bad Options value (unknown language, volume out of
	// range, unparsable quiet hours, unknown prompt name in Clips).
	ErrConfig = errors.New("audio: bad config")
	// ErrWAV reports a clip that is not a WAV file this package can play.
	ErrWAV = errors.New("audio: bad WAV")
	// ErrPrompt reports a Prompt value outside the declared set.
	ErrPrompt = errors.New("audio: unknown prompt")
	// ErrClosed reports a Say on a closed Speaker.
	ErrClosed = errors.New("audio: speaker closed")
)
