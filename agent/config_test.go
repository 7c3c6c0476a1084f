package agent

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestExampleConfigParses(t *testing.T) {
	c, err := LoadConfig(filepath.Join("..", "docs", "agent.example.json"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Facility == "" || c.Entrance != "정문" || time.Duration(c.ClockSkew) != 2*time.Second || c.Camera.FourCC != "MJPG" {
		t.Fatalf("config = %+v", c)
	}
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	base := `"facility":"F","device":"D","source":"0","data_dir":"d","central_url":"https://x","keys_file":"k"`
	cases := []struct{ body, want string }{
		{`{` + base + `,"camra":{}}`, `unknown key "camra"`},
		{`{` + base + `,"audio":{"volum":1}}`, `unknown key "audio.volum" (line 1, column 109): did you mean "volume"?`},
		{`{"device":"D","source":"0","data_dir":"d","central_url":"https://x","keys_file":"k"}`, `missing required key "facility"`},
		{`{"facility":"F","device":"D","source":"0","data_dir":"d","central_url":"https://x"}`, `missing required key "keys_file"`},
		{`{` + base + `,"clock_skew":"2 parsecs"}`, `key "clock_skew" (line 1, column 113): "2 parsecs" is not a duration`},
		{`{` + base + `,"queue_max":"many"}`, `key "queue_max"`},
		{`{` + strings.Replace(base, "https://x", "ftp://x", 1) + `}`, `key "central_url"`},
		{`{` + base + `,"log_level":"loud"}`, `key "log_level"`},
	}
	dir := t.TempDir()
	for _, c := range cases {
		p := filepath.Join(dir, "agent.json")
		os.WriteFile(p, []byte(c.body), 0o600)
		_, err := LoadConfig(p)
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err = %v, want it to name %s", c.body, err, c.want)
		}
	}
	p := filepath.Join(dir, "ok.json")
	os.WriteFile(p, []byte(`{`+base+`}`), 0o600)
	c, err := LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != filepath.Join(dir, "d") || time.Duration(c.DedupWindow) != 5*time.Second {
		t.Fatalf("relative paths and defaults: %+v", c)
	}
}

// A plain http:// central_url is refused for any host but loopback, by a
// config error naming the key, unless insecure_http says so.
func TestPlainHTTPCentralRefused(t *testing.T) {
	dir := t.TempDir()
	load := func(url, extra string) error {
		p := filepath.Join(dir, "agent.json")
		os.WriteFile(p, []byte(`{"facility":"F","device":"D","source":"0","data_dir":"d","keys_file":"k","central_url":"`+url+`"`+extra+`}`), 0o600)
		_, err := LoadConfig(p)
		return err
	}
	for _, u := range []string{"http://central.example.kr", "http://192.168.0.10:8700"} {
		err := load(u, "")
		if err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), `key "central_url"`) || !strings.Contains(err.Error(), `"insecure_http": true`) {
			t.Errorf("%s: err = %v, want a config error naming central_url and insecure_http", u, err)
		}
		if err := load(u, `,"insecure_http":true`); err != nil {
			t.Errorf("%s with insecure_http: %v", u, err)
		}
	}
	for _, u := range []string{"http://127.0.0.1:8700", "http://localhost:8700", "https://central.example.kr"} {
		if err := load(u, ""); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
}

// TestConfigErrorsSayWhere: broken JSON, unknown nested keys, bad
// durations and bad values name the full key path and the line and column.
func TestConfigErrorsSayWhere(t *testing.T) {
	good := "{\n  \"facility\": \"F\",\n  \"device\": \"D\",\n  \"source\": \"stdin\",\n  \"data_dir\": \"d\",\n" +
		"  \"central_url\": \"https://x\",\n  \"keys_file\": \"k\",\n  \"audio\": {\n    \"volume\": 1\n  },\n" +
		"  \"camera\": {\"idle_after\": \"30s\"}\n}\n"
	if _, err := ParseConfig(strings.NewReader(good)); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ old, new, want string }{
		{`"volume": 1`, `"volumn": 1`, `unknown key "audio.volumn" (line 9, column 5): did you mean "volume"?`},
		{`"volume": 1`, `"volume": "loud"`, `key "audio.volume" (line 9, column 15): want a number, got the string "loud"`},
		{`"idle_after": "30s"`, `"idle_after": "30 s"`, `key "camera.idle_after" (line 11, column 28): "30 s" is not a duration`},
		{`"idle_after": "30s"`, `"idle_after": 30`, `key "camera.idle_after" (line 11, column 28): want a duration string`},
		{`"keys_file": "k",`, `"keys_file": "k"`, `line 8, column 3: broken JSON`},
		{`"volume": 1`, `"volume": 1,`, `line 10, column 3: broken JSON`},
		{"\n}\n", "\n", `broken JSON: the file ends too early`},
		{`"source": "stdin"`, `"source": "stdin", "log_level": "loud"`, `key "log_level": "loud" is not debug, info, warn or error (line 4, column 22)`},
		{`"idle_after": "30s"`, `"focus": "blurry"`, `key "camera.focus": "blurry" is not driver, auto or fixed (line 11, column 14)`},
	}
	for _, c := range cases {
		body := strings.Replace(good, c.old, c.new, 1)
		_, err := ParseConfig(strings.NewReader(body))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s → %s: err = %v\nwant %s", c.old, c.new, err, c.want)
		}
	}
	_, err := ParseConfig(strings.NewReader(`{"source":"stdin","data_dir":"d"}`))
	if err == nil || !strings.Contains(err.Error(), `missing required keys "facility", "device", "central_url", "keys_file"`) {
		t.Errorf("missing keys, all at once: %v", err)
	}
}

// TestCommentedExampleConfig: docs/agent.example.jsonc parses once its
// comments are stripped, and it shows every key the agent reads.
func TestCommentedExampleConfig(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docs", "agent.example.jsonc"))
	if err != nil {
		t.Fatal(err)
	}
	var plain strings.Builder
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "//") {
			l = "" // keep the line numbers
		}
		plain.WriteString(l + "\n")
	}
	c, err := ParseConfig(strings.NewReader(plain.String()))
	if err != nil {
		t.Fatalf("the example does not parse: %v", err)
	}
	if c.Entrance != "정문" || c.LogFormat != "text" || c.Status.Listen != "127.0.0.1:8080" {
		t.Fatalf("example = %+v", c)
	}
	seen, _ := checkKeys([]byte(plain.String()))
	shown := map[string]bool{}
	for k := range seen {
		shown[regexp.MustCompile(`\[[0-9]+\]`).ReplaceAllString(k, "")] = true
	}
	for _, k := range ConfigKeys() {
		if !shown[k] {
			t.Errorf("the example config lacks key %q", k)
		}
	}
	if len(ConfigKeys()) < 40 {
		t.Fatalf("ConfigKeys = %v", ConfigKeys())
	}
}

// TestFrameInterval: a camera's decoding budget is its frame interval.
func TestFrameInterval(t *testing.T) {
	for _, c := range []struct {
		fps  float64
		want time.Duration
	}{{0, time.Second / 30}, {15, time.Second / 15}, {30, time.Second / 30}, {-1, time.Second / 30}} {
		if got := frameInterval(c.fps); got != c.want {
			t.Errorf("frameInterval(%v) = %v, want %v", c.fps, got, c.want)
		}
	}
}
