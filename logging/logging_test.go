package logging

import (
	"bytes"
	"strings"
	"testing"
)

func TestNewLevelAndComponent(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, "warn")
	log.Info("hidden")
	For(log, "uplink").Warn("shown")
	out := buf.String()
	if strings.Contains(out, "hidden") {
		t.Errorf("info line written at level warn: %q", out)
	}
	if !strings.Contains(out, "shown") || !strings.Contains(out, "component=uplink") {
		t.Errorf("warn line without its component: %q", out)
	}
}

func TestNewUnknownLevelIsInfo(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, "loud")
	log.Debug("debug line")
	log.Info("info line")
	if out := buf.String(); strings.Contains(out, "debug line") || !strings.Contains(out, "info line") {
		t.Errorf("unknown level is not info: %q", out)
	}
}
