// Package engine reads scan engines: scanners that decode the QR themselves
// and deliver text, so the agent skips its own decoder. It covers serial
// and USB-CDC scanners (go.bug.st/serial), Linux evdev keyboard-wedge
// scanners (US and Korean 2-set layouts, exclusive grab) and lines on
// stdin. Every engine suppresses repeats of the same code within a window
// (2.5 s by default).
//
// Codes are tokens: this package never logs their text.
package engine

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kipass/kipass/camera"
	"github.com/kipass/kipass/clock"
)

// Code is one code delivered by a scan engine.
type Code struct {
	// Text is the decoded content. Never log it.
	Text string
	// At is when the code's last character arrived.
	At time.Time
	// Source names the engine, e.g. "serial:/dev/ttyACM0".
	Source string
}

// Codes yields decoded codes.
type Codes interface {
	// Next blocks until a code, ctx's end, Close (ErrClosed) or the end of
	// a finite input such as stdin (io.EOF).
	Next(ctx context.Context) (Code, error)
	// Close stops the engine.
	Close() error
}

// HealthReporter is implemented by engines on devices that can go away
// (serial ports, evdev devices); the agent shows it like a camera's.
type HealthReporter interface {
	// Health returns the engine's current health.
	Health() camera.Health
}

// Options tune an engine. The zero value is usable.
type Options struct {
	// DedupWindow suppresses a repeat of the same code within it. Zero
	// means camera.EngineDedupWindow (2.5 s); negative turns it off.
	DedupWindow time.Duration
	// IdleEnd ends a code when no character arrives for this long, for
	// scanners configured without a terminator. Zero means 100 ms.
	IdleEnd time.Duration
	// MaxLen bounds a code in bytes. Zero means 4096.
	MaxLen int
	// Baud is the serial bit rate. Zero means 9600 (USB-CDC ignores it).
	Baud int
	// Layout is the keyboard layout an evdev scanner types in: "us" (the
	// default) or "ko" (Korean 2-set, 두벌식; the 한/영 key switches).
	Layout string
	// NoGrab leaves an evdev device shared. By default it is grabbed
	// exclusively, so codes are not typed into other programs too.
	NoGrab bool
	// BackoffMin and BackoffMax bound the delay between reopen attempts of
	// a device that failed. Zero means 500 ms and 30 s.
	BackoffMin, BackoffMax time.Duration
	// OnHealth, if set, is called when the health state changes.
	OnHealth func(camera.Health)
	// Clock stamps codes and times backoff. Nil means clock.Real{}.
	Clock clock.Clock
	// Log receives log lines (never code text). Nil means slog.Default().
	Log *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.DedupWindow == 0 {
		o.DedupWindow = camera.EngineDedupWindow
	}
	if o.IdleEnd <= 0 {
		o.IdleEnd = 100 * time.Millisecond
	}
	if o.MaxLen <= 0 {
		o.MaxLen = 4096
	}
	if o.Baud <= 0 {
		o.Baud = 9600
	}
	if o.Layout == "" {
		o.Layout = "us"
	}
	if o.BackoffMin <= 0 {
		o.BackoffMin = 500 * time.Millisecond
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 30 * time.Second
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return o
}

// Open opens a scan engine from a spec:
//
//   - "serial:/dev/ttyACM0" or "serial:/dev/ttyUSB0?baud=115200": a serial or
//     USB-CDC scanner;
//   - "evdev:/dev/input/by-id/usb-...-event-kbd" (optionally "?layout=ko"):
//     a keyboard-wedge scanner, grabbed exclusively;
//   - "stdin": one code per line on standard input.
//
// Devices that are missing or fail are reopened with backoff and reported
// through HealthReporter; Open fails only for a bad spec or layout.
func Open(ctx context.Context, spec string, o Options) (Codes, error) {
	kind, path, _ := strings.Cut(strings.TrimSpace(spec), ":")
	path, params, _ := strings.Cut(path, "?")
	for _, kv := range strings.Split(params, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "baud":
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("engine: %q: baud %q: %w", spec, v, ErrBadSpec)
			}
			o.Baud = n
		case "layout":
			o.Layout = v
		default:
			return nil, fmt.Errorf("engine: %q: unknown parameter %q: %w", spec, k, ErrBadSpec)
		}
	}
	o = o.withDefaults()
	switch kind {
	case "stdin":
		return NewReader(os.Stdin, "stdin", o), nil
	case "serial":
		if path == "" {
			return nil, fmt.Errorf("engine: %q names no port: %w", spec, ErrBadSpec)
		}
		return openSerial(ctx, path, o), nil
	case "evdev":
		if path == "" {
			return nil, fmt.Errorf("engine: %q names no device: %w", spec, ErrBadSpec)
		}
		km, err := keymapFor(o.Layout)
		if err != nil {
			return nil, fmt.Errorf("engine: %q: %w", spec, err)
		}
		return openEvdev(ctx, path, km, o), nil
	}
	return nil, fmt.Errorf("engine: %q: want serial:PORT, evdev:DEVICE or stdin: %w", spec, ErrBadSpec)
}

// stream is the common half of every engine: a producer goroutine sends
// codes; Next suppresses duplicates and reports the end.
type stream struct {
	name  string
	o     Options
	dedup *camera.Dedup
	codes chan Code
	stop  chan struct{}
	once  sync.Once

	mu     sync.Mutex
	err    error // why the producer ended
	health camera.Health
	fails  int
	back   time.Duration
}

func newStream(name string, o Options) *stream {
	return &stream{
		name:   name,
		o:      o,
		dedup:  camera.NewDedup(o.DedupWindow),
		codes:  make(chan Code, 16),
		stop:   make(chan struct{}),
		health: camera.Health{State: camera.StateStarting, Since: o.Clock.Now(), Reason: "not opened yet"},
	}
}

// emit hands a code to Next; it returns false once the engine is closed.
func (s *stream) emit(text string, at time.Time) bool {
	select {
	case s.codes <- Code{Text: text, At: at, Source: s.name}:
		return true
	case <-s.stop:
		return false
	}
}

// end records why the producer stopped and closes the code channel.
func (s *stream) end(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
	close(s.codes)
}

// Next returns the next code that is not a duplicate.
func (s *stream) Next(ctx context.Context) (Code, error) {
	for {
		select {
		case c, ok := <-s.codes:
			if !ok {
				s.mu.Lock()
				defer s.mu.Unlock()
				return Code{}, s.err
			}
			if !s.dedup.Fresh(c.Text, c.At) {
				s.o.Log.Debug("engine: duplicate code suppressed", "source", s.name)
				continue
			}
			return c, nil
		case <-s.stop:
			return Code{}, ErrClosed
		case <-ctx.Done():
			return Code{}, ctx.Err()
		}
	}
}

func (s *stream) closed() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

func (s *stream) closeStream() { s.once.Do(func() { close(s.stop) }) }

// Health returns the engine's health.
func (s *stream) Health() camera.Health {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.health
}

func (s *stream) setHealth(st camera.State, reason string) {
	s.mu.Lock()
	changed := s.health.State != st
	if changed {
		s.health.Since = s.o.Clock.Now()
	}
	s.health.State, s.health.Reason = st, reason
	h := s.health
	s.mu.Unlock()
	if changed {
		s.o.Log.Info("engine: health", "source", s.name, "state", st.String(), "reason", reason)
		if s.o.OnHealth != nil {
			s.o.OnHealth(h)
		}
	}
}

// opened notes a successful open.
func (s *stream) opened() {
	s.mu.Lock()
	s.health.Reopens++
	s.fails, s.back = 0, 0
	s.mu.Unlock()
	s.setHealth(camera.StateOK, "")
}

// failed notes a failed open or a device that went away, and waits out the
// backoff. It returns false once the engine is closed.
func (s *stream) failed(err error, missing bool) bool {
	s.mu.Lock()
	s.fails++
	if s.back == 0 {
		s.back = s.o.BackoffMin
	} else if s.back *= 2; s.back > s.o.BackoffMax {
		s.back = s.o.BackoffMax
	}
	back, fails := s.back, s.fails
	s.mu.Unlock()
	st := camera.StateReopening
	if missing || fails >= 3 {
		st = camera.StateAbsent
	}
	s.o.Log.Warn("engine: device failed; will retry", "source", s.name, "attempt", fails, "retry_in", back, "err", err)
	s.setHealth(st, err.Error())
	select {
	case <-s.o.Clock.After(back):
		return true
	case <-s.stop:
		return false
	}
}
