package agent

import (
	"errors"
	"os"
	"path/filepath"
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
		{`{` + base + `,"audio":{"volum":1}}`, `unknown key "volum"`},
		{`{"device":"D","source":"0","data_dir":"d","central_url":"https://x","keys_file":"k"}`, `missing required key "facility"`},
		{`{"facility":"F","device":"D","source":"0","data_dir":"d","central_url":"https://x"}`, `missing required key "keys_file"`},
		{`{` + base + `,"clock_skew":"2 parsecs"}`, `time: unknown unit`},
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
