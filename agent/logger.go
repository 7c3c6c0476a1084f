package agent

import (
	"io"
	"log/slog"

	"github.com/kipass/kipass/status"
)

// Log formats of the log_format key.
const (
	// LogText writes key=value lines (the default).
	LogText = "text"
	// LogJSON writes one JSON object per line, for log collectors.
	LogJSON = "json"
)

// NewFormatLogger returns the slog logger the binaries use: format "text"
// or "json" to w, at the given level ("debug", "info", "warn", "error").
// Times are written in KST with their offset (+09:00), as people at the
// facility read them, whatever the machine's zone.
func NewFormatLogger(w io.Writer, level, format string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	o := &slog.HandlerOptions{Level: l, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey && a.Value.Kind() == slog.KindTime {
			a.Value = slog.TimeValue(a.Value.Time().In(status.KST))
		}
		return a
	}}
	if format == LogJSON {
		return slog.New(slog.NewJSONHandler(w, o))
	}
	return slog.New(slog.NewTextHandler(w, o))
}

// Logger returns the logger a config asks for: log_level and log_format.
func (c Config) Logger(w io.Writer) *slog.Logger { return NewFormatLogger(w, c.LogLevel, c.LogFormat) }
