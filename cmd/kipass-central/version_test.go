package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestVersionAndHelp: --version prints the build's version; -h of the
// binary and of serve exit 0.
func TestVersionAndHelp(t *testing.T) {
	var out, errb bytes.Buffer
	if rc := run([]string{"--version"}, &out, &errb); rc != 0 || !strings.HasPrefix(out.String(), "kipass-central ") {
		t.Fatalf("--version: exit %d, %q %q", rc, out.String(), errb.String())
	}
	for _, args := range [][]string{{"-h"}, {"--help"}, {"serve", "-h"}} {
		out.Reset()
		errb.Reset()
		if rc := run(args, &out, &errb); rc != 0 || !strings.Contains(out.String()+errb.String(), "sage") {
			t.Errorf("%v: exit %d, output %q", args, rc, out.String()+errb.String())
		}
	}
}
