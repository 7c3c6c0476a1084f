package audio

import (
	"os"
	"os/exec"
	"testing"
)

// TestBuildsWithoutOto guards the build tags: the package must build
// without cgo, for Android (where oto needs the NDK) and with -tags noaudio.
func TestBuildsWithoutOto(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the package three times")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
	}{
		{"nocgo", []string{"CGO_ENABLED=0"}, nil},
		{"android", []string{"CGO_ENABLED=0", "GOOS=android", "GOARCH=arm64"}, nil},
		{"noaudio", nil, []string{"-tags", "noaudio"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"build"}, tc.args...)
			args = append(args, "-o", os.DevNull, ".")
			cmd := exec.Command(goBin, args...)
			cmd.Env = append(os.Environ(), tc.env...)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("go %v with %v: %v\n%s", args, tc.env, err, out)
			}
		})
	}
}
