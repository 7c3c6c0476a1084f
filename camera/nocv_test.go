//go:build !cgo || nocv

package camera

import (
	"context"
	"errors"
	"image"
	"path/filepath"
	"testing"
)

func TestNoOpenCVBuildRefusesGocvSpecs(t *testing.T) {
	if HaveOpenCV {
		t.Fatal("HaveOpenCV true in a nocv build")
	}
	dir := t.TempDir()
	if err := WriteFolder(dir, []*image.Gray{pattern(8, 8, 1, 2)}); err != nil {
		t.Fatal(err)
	}
	for _, spec := range []string{filepath.Join(dir, "frame_0000.png"), filepath.Join(dir, "frame_%04d.png"), "rtsp://127.0.0.1:1/x"} {
		if _, err := Open(context.Background(), spec, Options{}); !errors.Is(err, ErrNoOpenCV) {
			t.Errorf("Open(%q) = %v, want ErrNoOpenCV", spec, err)
		}
	}
	if err := WriteVideo(filepath.Join(dir, "x.avi"), []*image.Gray{pattern(8, 8, 1, 2)}, 10); !errors.Is(err, ErrNoOpenCV) {
		t.Errorf("WriteVideo = %v, want ErrNoOpenCV", err)
	}
}
