//go:build !linux

package engine

import (
	"errors"
	"os"
)

// grab is unavailable off Linux.
func grab(*os.File) error { return errors.New("evdev grab needs Linux") }
