package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// demo --dir makes the directory it is given, as the README's session uses it.
func TestDemoMakesItsDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "demo")
	var out, errb bytes.Buffer
	if rc := run([]string{"demo", "--dir", dir, "--scans", "2", "--audio-device", "none"}, &out, &errb); rc != 0 {
		t.Fatalf("demo --dir of a new directory: exit %d\n%s", rc, errb.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "keys.json")); err != nil || !strings.Contains(out.String(), "summary:") {
		t.Fatalf("demo kept nothing in %s: %v\n%s", dir, err, out.String())
	}
}
