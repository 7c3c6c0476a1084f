//go:build !cgo || !linux || android || noaudio

package audio

import "log/slog"

// openDevice, in builds without oto, warns once and returns the silent
// speaker. Set Options.Command to play through an external program instead.
func openDevice(cfg Options, lib *library, pol policy, log *slog.Logger) (Speaker, error) {
	log.Warn("audio: this build has no sound output (no cgo/oto); prompts are only logged. Set audio command to use an external player.")
	return newSilent(lib, pol, log), nil
}
