package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestVersionAndHelp: --version prints the build's version; -h exits 0.
func TestVersionAndHelp(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run([]string{"--version"}, &out, &errb); err != nil || !strings.HasPrefix(out.String(), "kipass-issuer ") {
		t.Fatalf("--version: %v, %q", err, out.String())
	}
	out.Reset()
	if err := run([]string{"-h"}, &out, &errb); err != nil || !strings.Contains(out.String(), "Usage:") {
		t.Fatalf("-h: %v, %q", err, out.String())
	}
}
