// Package logging builds the log/slog logger the binaries share: text
// lines at a chosen level. Every part logs through the logger it is given,
// tagged with the part's name under the key "component".
package logging

import (
	"io"
	"log/slog"
)

// Key is the attribute that names the part a log line comes from
// ("queue", "uplink", "camera", …).
const Key = "component"

// New returns a text logger writing to w at level ("debug", "info", "warn"
// or "error"; info for anything else).
func New(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// For returns log tagged with the part's name, component.
func For(log *slog.Logger, component string) *slog.Logger {
	return log.With(Key, component)
}
