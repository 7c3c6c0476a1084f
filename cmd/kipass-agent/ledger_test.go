package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kipass/kipass/agent"
	"github.com/kipass/kipass/logging"
	"github.com/kipass/kipass/token"
)

// The ledger subcommand against a running agent: paper visits go into its
// durable queue, sheets are started and confirmed shredded with the PIN
// from the config's pin file, and a wrong PIN changes nothing.
func TestLedgerCommandAgainstRunningAgent(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "frames"), 0o700)
	pinFile := filepath.Join(dir, "pin")
	os.WriteFile(pinFile, []byte("246813\n"), 0o600)
	cfgFile := filepath.Join(dir, "agent.json")
	cfgJSON, _ := json.Marshal(map[string]any{
		"facility": "FAC-L", "device": "gate-l", "source": "folder:" + filepath.Join(dir, "frames"),
		"data_dir": filepath.Join(dir, "data"), "central_url": "http://127.0.0.1:1", "keys_file": filepath.Join(dir, "keys.json"),
		"audio":  map[string]any{"device": "none"},
		"status": map[string]any{"listen": "127.0.0.1:0", "pin_file": pinFile},
	})
	os.WriteFile(cfgFile, cfgJSON, 0o600)
	key, _ := token.GenerateKey("dev")
	keys, _ := json.Marshal(token.NewKeySet(key.Public()))
	os.WriteFile(filepath.Join(dir, "keys.json"), keys, 0o600)
	cfg, err := agent.LoadConfig(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, err := agent.Open(ctx, cfg, logging.New(&bytes.Buffer{}, "error"), agent.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx) }()
	defer func() { stop(); <-done }()
	for a.StatusServer().BoundAddr() == "" && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	addr := a.StatusServer().BoundAddr()

	cli := func(args ...string) (int, string) {
		t.Helper()
		var out, errb bytes.Buffer
		code := run(append([]string{"ledger", "--addr", addr, "--config", cfgFile}, args...), &out, &errb)
		return code, out.String() + errb.String()
	}
	if code, out := cli("add", "3"); code != 0 || !strings.Contains(out, "Counted 3 paper visit(s)") || !strings.Contains(out, "Paper visits today: 3") {
		t.Fatalf("add 3: %d %s", code, out)
	}
	if d := a.Snapshot().Queue.Depth; d != 3 {
		t.Fatalf("queue depth after add 3: %d", d)
	}
	today := time.Now().In(time.FixedZone("KST", 9*3600)).Format("2006-01-02")
	if code, out := cli("start"); code != 0 || !strings.Contains(out, "Sheet of "+today+" started") {
		t.Fatalf("start: %d %s", code, out)
	}
	if code, out := cli("add"); code != 0 || !strings.Contains(out, "Paper visits today: 4") {
		t.Fatalf("add: %d %s", code, out)
	}
	if code, out := cli("sheets"); code != 0 || !strings.Contains(out, today+"        1") {
		t.Fatalf("sheets: %d %s", code, out)
	}
	// A wrong PIN file: refused, nothing counted.
	bad := filepath.Join(dir, "badpin")
	os.WriteFile(bad, []byte("111111"), 0o600)
	var out, errb bytes.Buffer
	if code := run([]string{"ledger", "--addr", addr, "--pin-file", bad, "add"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "403") {
		t.Fatalf("wrong PIN: %d %s %s", code, out.String(), errb.String())
	}
	if code, out := cli("add", "0"); code != 1 || !strings.Contains(out, "not a number of visitors") {
		t.Fatalf("add 0: %d %s", code, out)
	}
	if d := a.Snapshot().Queue.Depth; d != 4 {
		t.Fatalf("queue depth: %d, want 4", d)
	}
	if code, out := cli("shredded", "2000-01-01"); code != 1 || !strings.Contains(out, "no open sheet") {
		t.Fatalf("shredded unknown: %d %s", code, out)
	}
	if code, out := cli("shredded", today); code != 0 || !strings.Contains(out, "recorded as shredded") {
		t.Fatalf("shredded: %d %s", code, out)
	}
	if code, out := cli("--json", "sheets"); code != 0 || !strings.Contains(out, `"shredded_at"`) {
		t.Fatalf("sheets --json: %d %s", code, out)
	}
}
