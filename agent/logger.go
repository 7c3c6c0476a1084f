package agent

import (
	"io"
	"log/slog"

	"github.com/kipass/kipass/logging"
)

// Log formats of the log_format key.
const (
	// LogText writes key=value lines (the default).
	LogText = logging.Text
	// LogJSON writes one JSON object per line, for log collectors.
	LogJSON = logging.JSON
)

// Logger returns the logger a config asks for: log_level and log_format.
func (c Config) Logger(w io.Writer) *slog.Logger {
	return logging.NewFormat(w, c.LogLevel, c.LogFormat)
}
