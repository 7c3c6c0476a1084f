// Package logging builds the log/slog logger the binaries share: text or
// JSON lines at a chosen level, times in KST. Every part logs through the
// logger it is given, tagged with the part's name under the key
// "component".
package logging

import (
	"io"
	"log/slog"

	"github.com/kipass/kipass/central/api"
)

// Key is the attribute that names the part a log line comes from
// ("queue", "uplink", "camera", …).
const Key = "component"

// Log formats.
const (
	// Text writes key=value lines (the default).
	Text = "text"
	// JSON writes one JSON object per line, for log collectors.
	JSON = "json"
)

// New returns a text logger writing to w at level ("debug", "info", "warn"
// or "error"; info for anything else).
func New(w io.Writer, level string) *slog.Logger { return NewFormat(w, level, Text) }

// NewFormat returns a logger writing format (Text or JSON) to w at level.
// Times are written in KST with their offset (+09:00), as people at the
// facility read them, whatever the machine's zone.
func NewFormat(w io.Writer, level, format string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	o := &slog.HandlerOptions{Level: l, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey && a.Value.Kind() == slog.KindTime {
			a.Value = slog.TimeValue(a.Value.Time().In(api.KST))
		}
		return a
	}}
	if format == JSON {
		return slog.New(slog.NewJSONHandler(w, o))
	}
	return slog.New(slog.NewTextHandler(w, o))
}

// For returns log tagged with the part's name, component.
func For(log *slog.Logger, component string) *slog.Logger {
	return log.With(Key, component)
}
