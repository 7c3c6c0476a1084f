package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestVersionAndHelp: --version prints the build's version and exits 0;
// -h of the binary and of every command exits 0 with the usage.
func TestVersionAndHelp(t *testing.T) {
	var out, errb bytes.Buffer
	if rc := run([]string{"--version"}, &out, &errb); rc != 0 || !strings.HasPrefix(out.String(), "kipass-agent ") ||
		!strings.Contains(out.String(), "go1.") {
		t.Fatalf("--version: exit %d, %q %q", rc, out.String(), errb.String())
	}
	for _, args := range [][]string{{"-h"}, {"--help"}, {"run", "-h"}, {"demo", "-h"}, {"decode", "-h"}, {"status", "-h"},
		{"stats", "-h"}, {"flush", "-h"}, {"enroll", "-h"}} {
		out.Reset()
		errb.Reset()
		if rc := run(args, &out, &errb); rc != 0 || !strings.Contains(out.String()+errb.String(), "sage") {
			t.Errorf("%v: exit %d, output %q", args, rc, out.String()+errb.String())
		}
	}
}
