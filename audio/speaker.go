// Package audio speaks the outcome of each scan: a short voice prompt in
// Korean (default) or English, or a distinct tone per outcome for noisy
// venues and quiet hours.
//
// Open decodes every clip to PCM once and, in cgo builds on Linux, opens one
// oto/v2 context for the process. Say starts playback and returns at once; a
// new Say cuts off the prompt still playing, so prompts never pile up behind
// each other at a busy door. Without a sound device (headless box, unplugged
// speaker) Open logs one warning and returns a silent speaker that logs each
// prompt; the agent keeps scanning.
//
// Latency: from Say to the first sample leaving ALSA is the device buffer
// plus up to one period: median 54–61 ms with the default 40 ms buffer,
// 32 ms with 20 ms (measured by TestPlayback through ALSA's file plugin:
// go test ./audio -run 'TestPlayback$' -count=1 -v). Say itself returns in
// about 0.1 ms.
//
// Builds without cgo, for Android or with the noaudio tag have no oto: they
// play through Options.Command (an external player) or stay silent.
package audio

import (
	"log/slog"
)

// Speaker plays prompts.
type Speaker interface {
	// Say starts playing prompt p and returns without waiting for it to
	// finish. A prompt still playing is cut off. It returns ErrPrompt for a
	// value outside the declared prompts and ErrClosed after Close; a sound
	// device that fails is logged, not returned.
	Say(p Prompt) error
	// Close stops playback and releases the speaker. The process-wide oto
	// context stays open for a later Open.
	Close() error
}

// Open returns a Speaker for cfg. It never fails for lack of a sound
// device: it then logs one warning and returns a silent speaker that logs
// each prompt. It returns an error (wrapping ErrConfig or ErrWAV) only for
// bad configuration, such as an operator clip that is not a valid WAV file.
// A nil log means slog.Default().
func Open(cfg Options, log *slog.Logger) (Speaker, error) {
	if log == nil {
		log = slog.Default()
	}
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	lib, err := loadLibrary(cfg)
	if err != nil {
		return nil, err
	}
	pol := newPolicy(cfg)
	switch {
	case cfg.Device == "none":
		log.Info("audio: sound is off (device \"none\"); prompts are only logged")
		return newSilent(lib, pol, log), nil
	case len(cfg.Command) > 0:
		return newCommandSpeaker(cfg, lib, pol, log)
	}
	return openDevice(cfg, lib, pol, log)
}

// silent is the speaker without sound: it logs each prompt.
type silent struct {
	lib    *library
	pol    policy
	log    *slog.Logger
	closed chan struct{}
}

func newSilent(lib *library, pol policy, log *slog.Logger) *silent {
	return &silent{lib: lib, pol: pol, log: log, closed: make(chan struct{})}
}

// Say logs the prompt at Info level.
func (s *silent) Say(p Prompt) error {
	if !p.Valid() {
		return ErrPrompt
	}
	select {
	case <-s.closed:
		return ErrClosed
	default:
	}
	ch := s.pol.choose()
	s.log.Info("audio: prompt (no sound)", "prompt", p.String(), "kind", ch.kind(),
		"ms", s.lib.clip(p, ch).Duration().Milliseconds())
	return nil
}

// Close marks the speaker closed; it is safe to call more than once.
func (s *silent) Close() error {
	select {
	case <-s.closed:
	default:
		close(s.closed)
	}
	return nil
}
