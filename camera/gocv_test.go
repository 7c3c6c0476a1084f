//go:build cgo && !nocv

package camera

import (
	"context"
	"errors"
	"image"
	"io"
	"path/filepath"
	"testing"
	"time"
)

// genFrames makes n frames with distinct half intensities.
func genFrames(n, w, h int) []*image.Gray {
	var frames []*image.Gray
	for i := 0; i < n; i++ {
		frames = append(frames, pattern(w, h, uint8(20+i*7), uint8(230-i*7)))
	}
	return frames
}

func readAll(t *testing.T, src Source) []Frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []Frame
	for {
		f, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			return got
		}
		if err != nil {
			t.Fatalf("after %d frames: %v", len(got), err)
		}
		got = append(got, f)
	}
}

func TestWriteVideoReadBack(t *testing.T) {
	const n, w, h = 30, 320, 240
	frames := genFrames(n, w, h)
	path := filepath.Join(t.TempDir(), "clip.avi")
	if err := WriteVideo(path, frames, 10); err != nil {
		t.Fatal(err)
	}
	src, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	got := readAll(t, src)
	if len(got) != n {
		t.Fatalf("read %d frames, want %d", len(got), n)
	}
	for i, f := range got {
		if f.Seq != uint64(i+1) {
			t.Errorf("frame %d: Seq %d", i, f.Seq)
		}
		if f.Gray.Rect.Dx() != w || f.Gray.Rect.Dy() != h {
			t.Fatalf("frame %d: %v, want %dx%d", i, f.Gray.Rect, w, h)
		}
		l, r := halfMeans(f.Gray)
		// MJPG is lossy; the halves stay within a few levels.
		checkClose(t, "left", l, float64(20+i*7), 3)
		checkClose(t, "right", r, float64(230-i*7), 3)
	}
}

func TestImageSequenceThroughOpenCV(t *testing.T) {
	const n = 8
	frames := genFrames(n, 96, 64)
	dir := t.TempDir()
	if err := WriteFolder(dir, frames); err != nil {
		t.Fatal(err)
	}
	src, err := Open(context.Background(), filepath.Join(dir, "frame_%04d.png"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	got := readAll(t, src)
	if len(got) != n {
		t.Fatalf("read %d frames, want %d", len(got), n)
	}
	for i, f := range got {
		l, r := halfMeans(f.Gray)
		checkClose(t, "left", l, float64(20+i*7), 0)
		checkClose(t, "right", r, float64(230-i*7), 0)
	}
}

func TestLatestOnlyDropsStaleFrames(t *testing.T) {
	const n = 40
	path := filepath.Join(t.TempDir(), "clip.avi")
	if err := WriteVideo(path, genFrames(n, 64, 48), 30); err != nil {
		t.Fatal(err)
	}
	src, err := Open(context.Background(), path, Options{LatestOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	// Let the reader run ahead while we do not read.
	time.Sleep(300 * time.Millisecond)
	got := readAll(t, src)
	if len(got) == 0 {
		t.Fatal("no frame")
	}
	if got[0].Seq == 1 {
		t.Errorf("first frame after a pause is Seq 1; the reader kept a stale frame")
	}
	for i := 1; i < len(got); i++ {
		if got[i].Seq <= got[i-1].Seq {
			t.Errorf("Seq not increasing: %d then %d", got[i-1].Seq, got[i].Seq)
		}
	}
	t.Logf("read %d of %d frames, first Seq %d", len(got), n, got[0].Seq)
}

func TestWriteVideoRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	if err := WriteVideo(filepath.Join(dir, "a.avi"), nil, 10); !errors.Is(err, ErrBadInput) {
		t.Errorf("no frames: %v", err)
	}
	if err := WriteVideo(filepath.Join(dir, "b.avi"), genFrames(2, 32, 32), 0); !errors.Is(err, ErrBadInput) {
		t.Errorf("fps 0: %v", err)
	}
	mixed := []*image.Gray{pattern(32, 32, 1, 2), pattern(16, 16, 1, 2)}
	if err := WriteVideo(filepath.Join(dir, "c.avi"), mixed, 10); !errors.Is(err, ErrBadInput) {
		t.Errorf("mixed sizes: %v", err)
	}
}
