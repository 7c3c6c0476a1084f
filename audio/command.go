package audio

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// commandSpeaker plays prompts through an external program (Options.Command),
// one process per Say; a new Say kills the previous process.
type commandSpeaker struct {
	argv    []string
	useFile bool
	dir     string // temp dir of the WAV files when useFile
	lib     *library
	pol     policy
	log     *slog.Logger

	mu     sync.Mutex
	cur    *exec.Cmd
	closed bool
}

func newCommandSpeaker(cfg Options, lib *library, pol policy, log *slog.Logger) (*commandSpeaker, error) {
	if _, err := exec.LookPath(cfg.Command[0]); err != nil {
		return nil, fmt.Errorf("%w: command %q: %v", ErrConfig, cfg.Command[0], err)
	}
	s := &commandSpeaker{argv: cfg.Command, lib: lib, pol: pol, log: log}
	for _, a := range cfg.Command[1:] {
		if strings.Contains(a, "{file}") {
			s.useFile = true
		}
	}
	if s.useFile {
		dir, err := os.MkdirTemp("", "kipass-audio-")
		if err != nil {
			return nil, fmt.Errorf("audio: command clips: %w", err)
		}
		s.dir = dir
	}
	log.Info("audio: playing prompts through an external command", "program", cfg.Command[0])
	return s, nil
}

// wav returns the WAV bytes for p under ch, and writes them to a file when
// the command takes one (cached by name).
func (s *commandSpeaker) wav(p Prompt, ch choice) ([]byte, string, error) {
	c := s.lib.clip(p, ch)
	scaled := Clip{Rate: c.Rate, Samples: make([]float32, len(c.Samples))}
	for i, v := range c.Samples {
		scaled.Samples[i] = v * float32(ch.gain)
	}
	data := scaled.EncodeWAV()
	if !s.useFile {
		return data, "", nil
	}
	name := filepath.Join(s.dir, fmt.Sprintf("%s-%s-%03d.wav", p, ch.kind(), int(ch.gain*100)))
	if _, err := os.Stat(name); err != nil {
		if err := os.WriteFile(name, data, 0o600); err != nil {
			return nil, "", fmt.Errorf("audio: write clip: %w", err)
		}
	}
	return data, name, nil
}

// Say kills the previous player process and starts a new one.
func (s *commandSpeaker) Say(p Prompt) error {
	if !p.Valid() {
		return ErrPrompt
	}
	ch := s.pol.choose()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.stopLocked()
	data, file, err := s.wav(p, ch)
	if err != nil {
		return err
	}
	args := make([]string, 0, len(s.argv)-1)
	for _, a := range s.argv[1:] {
		args = append(args, strings.ReplaceAll(a, "{file}", file))
	}
	cmd := exec.Command(s.argv[0], args...)
	if !s.useFile {
		cmd.Stdin = bytes.NewReader(data)
	}
	if err := cmd.Start(); err != nil {
		s.log.Warn("audio: player command failed", "program", s.argv[0], "err", err)
		return fmt.Errorf("audio: start %s: %w", s.argv[0], err)
	}
	s.cur = cmd
	go func() {
		if err := cmd.Wait(); err != nil {
			s.log.Debug("audio: player command ended", "prompt", p.String(), "err", err)
		}
	}()
	return nil
}

// stopLocked kills the process still playing, if any.
func (s *commandSpeaker) stopLocked() {
	if s.cur != nil && s.cur.Process != nil {
		_ = s.cur.Process.Kill()
	}
	s.cur = nil
}

// Close kills the player process and removes the temporary clip files.
func (s *commandSpeaker) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.stopLocked()
	if s.dir != "" {
		return os.RemoveAll(s.dir)
	}
	return nil
}
