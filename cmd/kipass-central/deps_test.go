package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestLinksNoDeviceCode guards what the central server links: no camera
// (gocv), audio (oto) or decoder (gozxing) code, even in a cgo build. The
// server reaches them only through a package it should not import, such as
// the agent or the demo.
func TestLinksNoDeviceCode(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatal("go list -deps listed nothing")
	}
	forbidden := []string{"gocv.io/x/gocv", "github.com/hajimehoshi/oto", "github.com/makiuchi-d/gozxing",
		"github.com/kipass/kipass/agent", "github.com/kipass/kipass/demo", "github.com/kipass/kipass/camera",
		"github.com/kipass/kipass/audio", "github.com/kipass/kipass/decode", "github.com/kipass/kipass/screen"}
	for _, d := range deps {
		for _, f := range forbidden {
			if d == f || strings.HasPrefix(d, f+"/") {
				t.Errorf("kipass-central links %s", d)
			}
		}
	}
}
