//go:build cgo && linux && !android && !noaudio

package audio

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hajimehoshi/oto/v2"
)

// openTimeout bounds the wait for oto to open the ALSA device.
const openTimeout = 5 * time.Second

// shared is the process's one oto context (oto allows one per process).
var shared struct {
	once   sync.Once
	ctx    *oto.Context
	err    error
	device string
	opened time.Duration // how long opening the device took
}

// alsaTopConfig is the path of alsa.conf: alsa-lib keeps it in ALSA_CONFIG_DIR
// or /usr/share/alsa.
func alsaTopConfig() string {
	dir := os.Getenv("ALSA_CONFIG_DIR")
	if dir == "" {
		dir = "/usr/share/alsa"
	}
	return filepath.Join(dir, "alsa.conf")
}

// selectDevice makes ALSA's "default" PCM the plug-wrapped device, for oto
// (which always opens "default" first). It appends a config file to
// ALSA_CONFIG_PATH, which alsa-lib reads on its first open. alsa-lib runs
// each top-level file's load hooks right after that file, and alsa.conf's
// hooks load /etc/asound.conf and ~/.asoundrc, which often redefine
// "default" (PulseAudio, PipeWire): so the appended file does not define
// the PCM itself but loads it through its own hook, after theirs. The
// files stay in the temp dir for the life of the process.
func selectDevice(device string) error {
	dir, err := os.MkdirTemp("", "kipass-alsa-")
	if err != nil {
		return fmt.Errorf("audio: device config: %w", err)
	}
	pcm := filepath.Join(dir, "device.conf")
	hook := filepath.Join(dir, "hook.conf")
	if err := os.WriteFile(pcm, []byte(fmt.Sprintf("pcm.!default { type plug slave.pcm \"%s\" }\n", device)), 0o600); err != nil {
		return fmt.Errorf("audio: device config: %w", err)
	}
	if err := os.WriteFile(hook, []byte(fmt.Sprintf("@hooks [ { func load files [ \"%s\" ] } ]\n", pcm)), 0o600); err != nil {
		return fmt.Errorf("audio: device config: %w", err)
	}
	path := os.Getenv("ALSA_CONFIG_PATH")
	if path == "" {
		path = alsaTopConfig()
	}
	return os.Setenv("ALSA_CONFIG_PATH", path+":"+hook)
}

// sharedContext opens the process's oto context on first use and returns it, or
// the reason there is no sound device.
func sharedContext(cfg Options) (*oto.Context, error) {
	shared.once.Do(func() {
		shared.device = cfg.Device
		if cfg.Device != "" {
			if err := selectDevice(cfg.Device); err != nil {
				shared.err = err
				return
			}
		}
		silenceALSA()
		start := time.Now()
		ctx, ready, err := oto.NewContextWithOptions(&oto.NewContextOptions{
			SampleRate:   SampleRate,
			ChannelCount: 1,
			Format:       oto.FormatFloat32LE,
			BufferSize:   cfg.Buffer,
		})
		if err != nil {
			shared.err = err
			return
		}
		select {
		case <-ready:
		case <-time.After(openTimeout):
			shared.err = fmt.Errorf("oto: sound device not ready after %v", openTimeout)
			return
		}
		// NewContext returns a nil error without a device; the real
		// answer is in Err once ready is closed.
		if err := ctx.Err(); err != nil {
			shared.err = err
			return
		}
		shared.ctx = ctx
		shared.opened = time.Since(start)
	})
	return shared.ctx, shared.err
}

// openDevice opens the oto speaker, or the silent one when there is no
// sound device.
func openDevice(cfg Options, lib *library, pol policy, log *slog.Logger) (Speaker, error) {
	ctx, err := sharedContext(cfg)
	if err != nil {
		log.Warn("audio: no sound device; continuing without sound, prompts are only logged",
			"device", deviceName(cfg.Device), "err", err)
		return newSilent(lib, pol, log), nil
	}
	if cfg.Device != shared.device {
		log.Warn("audio: the sound device is chosen once per process; keeping the first",
			"device", deviceName(shared.device), "ignored", deviceName(cfg.Device))
	}
	s := &otoSpeaker{ctx: ctx, lib: lib, pol: pol, log: log, fallback: newSilent(lib, pol, log)}
	for _, p := range Prompts() {
		s.pcm[0][p] = lib.voice[p].float32LE(1)
		s.pcm[1][p] = lib.tone[p].float32LE(1)
	}
	log.Info("audio: sound device open", "device", deviceName(shared.device), "rate", SampleRate,
		"buffer_ms", cfg.Buffer.Milliseconds(), "open_ms", shared.opened.Milliseconds())
	return s, nil
}

func deviceName(d string) string {
	if d == "" {
		return "default"
	}
	return d
}

// otoSpeaker plays through the shared oto context. Each Say makes a new
// player over the pre-decoded PCM and closes the previous one, which
// removes it from oto's mixer at once: the old prompt is cut off within one
// device buffer.
type otoSpeaker struct {
	ctx *oto.Context
	lib *library
	pol policy
	log *slog.Logger
	// pcm[0] voice, pcm[1] tone: float32 little-endian at gain 1.
	pcm [2][numPrompts][]byte

	mu       sync.Mutex
	cur      oto.Player
	closed   bool
	lost     bool    // the device failed after Open: speak through fallback
	fallback *silent // logs prompts once the device is lost
}

// Say cuts off the playing prompt and starts p. It does not wait for the
// clip to play.
func (s *otoSpeaker) Say(p Prompt) error {
	if !p.Valid() {
		return ErrPrompt
	}
	ch := s.pol.choose()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if !s.lost {
		if err := s.ctx.Err(); err != nil {
			s.lost = true
			s.log.Warn("audio: sound device failed; continuing without sound, prompts are only logged", "err", err)
		}
	}
	if s.lost {
		return s.fallback.Say(p)
	}
	if s.cur != nil {
		_ = s.cur.Close()
		s.cur = nil
	}
	idx := 0
	if ch.tone {
		idx = 1
	}
	pcm := s.pcm[idx][p]
	pl := s.ctx.NewPlayer(bytes.NewReader(pcm))
	if bs, ok := pl.(oto.BufferSizeSetter); ok {
		// Hold the whole clip in the player: no refill gaps.
		bs.SetBufferSize(len(pcm))
	}
	pl.SetVolume(ch.gain)
	pl.Play()
	s.cur = pl
	s.log.Debug("audio: prompt", "prompt", p.String(), "kind", ch.kind(), "gain", ch.gain)
	return nil
}

// Close stops the prompt playing. The oto context stays open for the
// process (oto cannot reopen one).
func (s *otoSpeaker) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.cur == nil {
		return nil
	}
	err := s.cur.Close()
	s.cur = nil
	if err != nil {
		return fmt.Errorf("audio: close player: %w", err)
	}
	return nil
}
