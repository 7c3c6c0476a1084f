package agent

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kipass/kipass/logging"
)

// TestLogFormatAndZone: log_format json writes JSON lines, text writes
// key=value lines, both with times in KST (+09:00); a bad format is named.
func TestLogFormatAndZone(t *testing.T) {
	base := `{"facility":"F","device":"D","source":"stdin","data_dir":"d","central_url":"http://127.0.0.1:8700","keys_file":"k"`
	c, err := ParseConfig(strings.NewReader(base + `,"log_format":"json"}`))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	c.Logger(&b).Info("agent running", "device", "D")
	var line map[string]any
	if err := json.Unmarshal(b.Bytes(), &line); err != nil || line["msg"] != "agent running" {
		t.Fatalf("json log line %q: %v", b.String(), err)
	}
	if ts, _ := line["time"].(string); !strings.HasSuffix(ts, "+09:00") {
		t.Fatalf("log time %q is not in KST", ts)
	}
	if _, err := time.Parse(time.RFC3339Nano, line["time"].(string)); err != nil {
		t.Fatal(err)
	}
	b.Reset()
	logging.New(&b, "info").Info("hello")
	if !strings.Contains(b.String(), "+09:00 level=INFO msg=hello") {
		t.Fatalf("text log line %q", b.String())
	}
	if _, err := ParseConfig(strings.NewReader(base + `,"log_format":"xml"}`)); err == nil || !strings.Contains(err.Error(), "log_format") {
		t.Fatalf("bad log_format: %v", err)
	}
}
