package audio

import (
	"fmt"
	"strings"
	"time"

	"github.com/kipass/kipass/clock"
)

// SampleRate is the rate, in Hz, at which every clip and tone is decoded and
// played. The embedded clips are recorded at this rate; operator clips are
// resampled to it at Open.
const SampleRate = 16000

// DefaultBuffer is the device buffer used when Options.Buffer is zero. oto
// splits it into two ALSA periods; the verdict-to-first-sample latency is
// bounded by it (see the package doc for the measured figure).
const DefaultBuffer = 40 * time.Millisecond

// DefaultQuietVolume is the fraction of Options.Volume used in quiet hours
// when Options.QuietVolume is zero.
const DefaultQuietVolume = 0.3

// Options select the voice, the device and the playing policy.
//
// The zero value is usable: Korean voice at full volume on the default ALSA
// device, no quiet hours.
type Options struct {
	// Language of the voice prompts: "ko" (default) or "en".
	Language string
	// Volume in (0, 1]; 0 means the default, 1. Mute with Device "none".
	Volume float64
	// Device is an ALSA PCM name ("hw:1,0", "plughw:CARD=Speaker"). Empty
	// means ALSA's default device. "none" turns sound off: Open returns the
	// silent speaker. The device is chosen once per process (oto has one
	// context per process); a later Open with another Device keeps the
	// first and logs a warning.
	Device string
	// Clips replaces embedded voice clips with operator WAV files, keyed by
	// prompt name (Prompt.String: "verified", "pending", "invalid",
	// "expired", "clock-problem", "storage-failure"). An override applies in
	// every language. Any rate and channel count is accepted; the clip is
	// mixed to mono and resampled to SampleRate at Open.
	Clips map[string]string
	// QuietHours is a daily local-time window "HH:MM-HH:MM" (it may wrap
	// midnight, e.g. "22:00-07:00"). Inside it every prompt plays as its
	// short tone, not the voice, at QuietVolume × Volume. Empty: none.
	QuietHours string
	// QuietVolume is the fraction of Volume used in quiet hours, in (0, 1];
	// 0 means DefaultQuietVolume.
	QuietVolume float64
	// Tones plays the short tone of each outcome instead of the voice at all
	// hours (noisy venues).
	Tones bool
	// Command plays prompts through an external program instead of oto, for
	// builds without cgo (Android, static binaries) or a custom sound path.
	// Command[0] is the program; an argument "{file}" is replaced by the
	// path of the prompt's WAV file (written once at Open), otherwise the
	// WAV is written to the program's standard input. Example:
	// []string{"aplay", "-q", "-"}. A new Say kills the previous program.
	Command []string
	// Buffer is the sound device buffer; 0 means DefaultBuffer. Smaller
	// lowers latency, too small crackles on slow boards.
	Buffer time.Duration
	// Clock tells the time for quiet hours; nil means clock.Real{}.
	Clock clock.Clock
}

// quietWindow is a parsed daily window in minutes since local midnight.
type quietWindow struct {
	from, to int
}

// contains reports whether local time t lies in the window [from, to).
func (w quietWindow) contains(t time.Time) bool {
	m := t.Hour()*60 + t.Minute()
	if w.from < w.to {
		return m >= w.from && m < w.to
	}
	return m >= w.from || m < w.to // wraps midnight
}

func parseClock(s string) (int, error) {
	t, err := time.Parse("15:04", strings.TrimSpace(s))
	if err != nil {
		return 0, err
	}
	return t.Hour()*60 + t.Minute(), nil
}

// parseQuietHours parses "HH:MM-HH:MM"; ok is false for an empty string.
func parseQuietHours(s string) (w quietWindow, ok bool, err error) {
	if strings.TrimSpace(s) == "" {
		return quietWindow{}, false, nil
	}
	a, b, found := strings.Cut(s, "-")
	if !found {
		return quietWindow{}, false, fmt.Errorf("%w: quiet_hours %q: want HH:MM-HH:MM", ErrConfig, s)
	}
	from, err1 := parseClock(a)
	to, err2 := parseClock(b)
	if err1 != nil || err2 != nil {
		return quietWindow{}, false, fmt.Errorf("%w: quiet_hours %q: want HH:MM-HH:MM", ErrConfig, s)
	}
	if from == to {
		return quietWindow{}, false, fmt.Errorf("%w: quiet_hours %q: empty window", ErrConfig, s)
	}
	return quietWindow{from: from, to: to}, true, nil
}

// normalize fills defaults and checks every field except the clip files.
func (c Options) normalize() (Options, error) {
	switch c.Language {
	case "":
		c.Language = "ko"
	case "ko", "en":
	default:
		return c, fmt.Errorf("%w: language %q: want \"ko\" or \"en\"", ErrConfig, c.Language)
	}
	if c.Volume == 0 {
		c.Volume = 1
	}
	if !(c.Volume > 0 && c.Volume <= 1) {
		return c, fmt.Errorf("%w: volume %v: want a value in (0, 1]", ErrConfig, c.Volume)
	}
	if c.QuietVolume == 0 {
		c.QuietVolume = DefaultQuietVolume
	}
	if !(c.QuietVolume > 0 && c.QuietVolume <= 1) {
		return c, fmt.Errorf("%w: quiet_volume %v: want a value in (0, 1]", ErrConfig, c.QuietVolume)
	}
	if _, _, err := parseQuietHours(c.QuietHours); err != nil {
		return c, err
	}
	if strings.ContainsAny(c.Device, "\"\\\n\r{}") {
		return c, fmt.Errorf("%w: device %q: not an ALSA PCM name", ErrConfig, c.Device)
	}
	if c.Buffer == 0 {
		c.Buffer = DefaultBuffer
	}
	if c.Buffer < 5*time.Millisecond || c.Buffer > 2*time.Second {
		return c, fmt.Errorf("%w: buffer %v: want 5ms..2s", ErrConfig, c.Buffer)
	}
	if len(c.Command) > 0 && strings.TrimSpace(c.Command[0]) == "" {
		return c, fmt.Errorf("%w: command: empty program name", ErrConfig)
	}
	for name := range c.Clips {
		if _, err := ParsePrompt(name); err != nil {
			return c, fmt.Errorf("%w: clips: unknown prompt %q", ErrConfig, name)
		}
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	return c, nil
}
