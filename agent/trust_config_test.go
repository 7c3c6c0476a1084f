package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestTrustConfigKeys(t *testing.T) {
	base := `"facility":"F","device":"D","source":"0","data_dir":"d","central_url":"https://x","keys_file":"k"`
	dir := t.TempDir()
	for _, c := range []struct{ body, want string }{
		{`{` + base + `,"opaque":[{"issuer":"naver","pattern":"^NV(["}]}`, `key "opaque"`},
		{`{` + base + `,"opaque":[{"issuer":"naver"}]}`, `key "opaque"`},
		{`{` + base + `,"opaque":[{"issuer":"naver","regex":"x"}]}`, `unknown key "opaque[0].regex" (line 1, column 128)`},
		{`{` + base + `,"verify_timeout":"-1s"}`, `"verify_timeout"`},
	} {
		p := filepath.Join(dir, "agent.json")
		os.WriteFile(p, []byte(c.body), 0o600)
		if _, err := LoadConfig(p); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to name %s", c.body, err, c.want)
		}
	}
	c, err := LoadConfig(filepath.Join("..", "docs", "agent.example.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Opaque) != 1 || time.Duration(c.ClockTolerance) != 5*time.Second || time.Duration(c.VerifyTimeout) != 1500*time.Millisecond ||
		time.Duration(c.KeysRefresh) != 10*time.Minute {
		t.Fatalf("example config trust keys: %+v", c)
	}
}
