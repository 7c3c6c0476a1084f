package main

import (
	"runtime"
	"testing"
)

// TestChecks runs every smoke check compiled into this build (bbolt, gozxing,
// and with cgo gocv and oto) on the target architecture; under qemu this is
// the ARM run of the native libraries. Optional checks (sound device) only log.
func TestChecks(t *testing.T) {
	qr, err := encodeQR("KIPASS-PROBE-test")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			msg, err := c.run(qr)
			switch {
			case err == nil:
				t.Logf("%s/%s: %s", runtime.GOOS, runtime.GOARCH, msg)
			case c.optional:
				t.Logf("optional check failed (expected without hardware): %v", err)
			default:
				t.Fatal(err)
			}
		})
	}
}
