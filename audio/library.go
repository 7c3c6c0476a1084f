package audio

import (
	"embed"
	"fmt"
	"os"
	"time"

	"github.com/kipass/kipass/clock"
)

// The voice prompts, made by prompts/make-prompts.sh (espeak-ng + sox).
//
//go:embed prompts/ko/*.wav prompts/en/*.wav
var promptFS embed.FS

// Languages lists the embedded voice languages; the first is the default.
var Languages = []string{"ko", "en"}

// EmbeddedClip returns the embedded voice clip of prompt p in language lang,
// decoded and at SampleRate.
func EmbeddedClip(lang string, p Prompt) (Clip, error) {
	if !p.Valid() {
		return Clip{}, fmt.Errorf("%w: %d", ErrPrompt, int(p))
	}
	name := "prompts/" + lang + "/" + p.String() + ".wav"
	data, err := promptFS.ReadFile(name)
	if err != nil {
		return Clip{}, fmt.Errorf("%w: no embedded clip %s", ErrConfig, name)
	}
	c, err := DecodeWAV(data)
	if err != nil {
		return Clip{}, fmt.Errorf("embedded %s: %w", name, err)
	}
	return c.Resample(SampleRate), nil
}

// library holds everything a speaker plays, decoded once at Open.
type library struct {
	voice [numPrompts]Clip
	tone  [numPrompts]Clip
	// source names where each voice clip came from, for logs.
	source [numPrompts]string
}

// loadLibrary decodes the voice clips of cfg.Language, applies the operator
// overrides and synthesises the tones. cfg must be normalized.
func loadLibrary(cfg Options) (*library, error) {
	lib := &library{}
	for _, p := range Prompts() {
		c, err := EmbeddedClip(cfg.Language, p)
		if err != nil {
			return nil, err
		}
		lib.voice[p] = c
		lib.source[p] = "embedded:" + cfg.Language
		lib.tone[p] = Tone(p, SampleRate)
	}
	for name, path := range cfg.Clips {
		p, err := ParsePrompt(name)
		if err != nil {
			return nil, err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%w: clips.%s: %v", ErrConfig, name, err)
		}
		c, err := DecodeWAV(data)
		if err != nil {
			return nil, fmt.Errorf("clips.%s %s: %w", name, path, err)
		}
		lib.voice[p] = c.Resample(SampleRate)
		lib.source[p] = path
	}
	return lib, nil
}

// policy decides what a Say plays: voice or tone, and how loud.
type policy struct {
	volume, quietVolume float64
	tones               bool
	quiet               quietWindow
	hasQuiet            bool
	clock               clock.Clock
}

func newPolicy(cfg Options) policy {
	w, ok, _ := parseQuietHours(cfg.QuietHours) // checked by normalize
	return policy{
		volume:      cfg.Volume,
		quietVolume: cfg.QuietVolume,
		tones:       cfg.Tones,
		quiet:       w,
		hasQuiet:    ok,
		clock:       cfg.Clock,
	}
}

// choice is what one Say plays.
type choice struct {
	tone bool    // the tone instead of the voice
	gain float64 // 0..1
}

// choose applies the Tones setting and quiet hours at the current time.
func (pol policy) choose() choice {
	ch := choice{tone: pol.tones, gain: pol.volume}
	if pol.hasQuiet && pol.quiet.contains(pol.clock.Now()) {
		ch.tone = true
		ch.gain = pol.volume * pol.quietVolume
	}
	return ch
}

// clip returns the clip for p under choice ch.
func (lib *library) clip(p Prompt, ch choice) Clip {
	if ch.tone {
		return lib.tone[p]
	}
	return lib.voice[p]
}

// kind names a choice for logs.
func (ch choice) kind() string {
	if ch.tone {
		return "tone"
	}
	return "voice"
}

// ms converts d to fractional milliseconds, for logs and test figures.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
