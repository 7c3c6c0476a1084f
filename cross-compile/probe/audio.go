//go:build cgo && linux && !android && !noaudio

package main

import (
	"errors"
	"fmt"
	"image"
	"time"

	"github.com/hajimehoshi/oto/v2"
)

func init() {
	checks = append(checks, check{name: "oto", optional: true, run: checkAudio})
}

// checkAudio opens an ALSA context through oto. Without a sound device (CI,
// qemu) it reports the ALSA error, which shows libasound loaded and ran.
func checkAudio(image.Image) (string, error) {
	ctx, ready, err := oto.NewContext(22050, 1, oto.FormatSignedInt16LE)
	if err != nil {
		return "", fmt.Errorf("new context: %w", err)
	}
	select {
	case <-ready:
	case <-time.After(5 * time.Second):
		return "", errors.New("ALSA did not get ready within 5s")
	}
	// oto returns a nil error without a device; the real error is ctx.Err().
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("ALSA (no device is normal under qemu/CI): %w", err)
	}
	return "ALSA context ready", nil
}
