package audio

import (
	"os"
	"testing"
)

// helperMain, when set by a build-specific test file, lets the test binary
// act as a helper process (the paced ALSA pipe reader of the playback test).
// It reports whether it ran and the exit code.
var helperMain func() (code int, ran bool)

func TestMain(m *testing.M) {
	if helperMain != nil {
		if code, ran := helperMain(); ran {
			os.Exit(code)
		}
	}
	os.Exit(m.Run())
}
