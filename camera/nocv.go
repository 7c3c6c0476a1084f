//go:build !cgo || nocv

package camera

import (
	"context"
	"fmt"
	"image"
)

// HaveOpenCV reports whether this build links gocv. It is false here: the
// build has no cgo or carries the nocv tag.
const HaveOpenCV = false

func openCV(_ context.Context, p parsedSpec, _ Options) (Source, error) {
	return nil, fmt.Errorf("camera: open %q: %w", p.raw, ErrNoOpenCV)
}

// WriteVideo would write frames as an MJPG .avi; this build has no OpenCV,
// so it returns ErrNoOpenCV. Use WriteFolder instead.
func WriteVideo(path string, _ []*image.Gray, _ float64) error {
	return fmt.Errorf("camera: write video %s: %w", path, ErrNoOpenCV)
}
