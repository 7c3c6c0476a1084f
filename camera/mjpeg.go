package camera

import (
	"context"
	"fmt"
)

// openMJPEG opens the pure-Go MJPEG-over-HTTP client.
func openMJPEG(ctx context.Context, url string, o Options) (Source, error) {
	return nil, fmt.Errorf("camera: mjpeg client for %s: not yet available: %w", url, ErrBadSpec)
}
