package main

import (
	"os"
	"os/exec"
	"testing"
)

// TestPureGoBuilds guards the build tags: every package must build without
// cgo (static binaries) and for Android, where gocv and oto cannot link.
func TestPureGoBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the whole module twice")
	}
	for _, target := range []struct{ goos, goarch string }{{"linux", "amd64"}, {"android", "arm64"}, {"linux", "arm"}} {
		cmd := exec.Command("go", "build", "-o", os.DevNull, "./...")
		cmd.Dir = "../.."
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+target.goos, "GOARCH="+target.goarch)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("CGO_ENABLED=0 GOOS=%s GOARCH=%s go build ./... failed: %v\n%s", target.goos, target.goarch, err, out)
		}
	}
}
