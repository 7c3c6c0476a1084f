package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigCheck: `config check` accepts a good config without starting
// anything, and names the key (with line and column) of a bad one and
// every file problem at once.
func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "credential"), []byte("kpd_x\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "pin"), []byte("482913\n"), 0o600)
	good := `{"facility":"F","device":"D","source":"stdin","data_dir":"data","central_url":"http://127.0.0.1:1",
"keys_file":"keys.json","credential_file":"credential","status":{"pin_file":"pin"}}`
	p := filepath.Join(dir, "agent.json")
	os.WriteFile(p, []byte(good), 0o600)
	var out, errb bytes.Buffer
	if rc := run([]string{"config", "check", "--config", p}, &out, &errb); rc != 0 || !strings.Contains(out.String(), "config ok") ||
		!strings.Contains(out.String(), "scan engine stdin") {
		t.Fatalf("good config: exit %d\n%s%s", rc, out.String(), errb.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
		t.Fatal("config check created the data folder: it must not start anything")
	}
	os.WriteFile(p, []byte(strings.Replace(good, `"status":{`, `"status":{"lisen":"x",`, 1)), 0o600)
	errb.Reset()
	if rc := run([]string{"config", "check", "--config", p}, &out, &errb); rc != 1 ||
		!strings.Contains(errb.String(), `unknown key "status.lisen" (line 2, column 66): did you mean "listen"?`) {
		t.Fatalf("misspelled key: exit %d %s", rc, errb.String())
	}
	os.WriteFile(p, []byte(good), 0o600)
	os.Chmod(filepath.Join(dir, "pin"), 0o644)
	os.Remove(filepath.Join(dir, "credential"))
	errb.Reset()
	if rc := run([]string{"config", "check", "--config", p}, &out, &errb); rc != 1 ||
		!strings.Contains(errb.String(), `key "credential_file"`) || !strings.Contains(errb.String(), `key "status.pin_file"`) {
		t.Fatalf("file problems: exit %d %s", rc, errb.String())
	}
	if rc := run([]string{"config", "-h"}, &out, &errb); rc != 0 {
		t.Fatalf("config -h: %d", rc)
	}
}
