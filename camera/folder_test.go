package camera

import (
	"context"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestFolderSourceReadsWrittenFramesInOrder(t *testing.T) {
	dir := t.TempDir()
	var frames []*image.Gray
	for i := 0; i < 12; i++ {
		frames = append(frames, pattern(64, 48, uint8(10+i*20), uint8(240-i*20)))
	}
	if err := WriteFolder(dir, frames); err != nil {
		t.Fatal(err)
	}
	// A non-image file is ignored.
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := Open(context.Background(), "folder:"+dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for i := 0; ; i++ {
		f, err := src.Next(context.Background())
		if errors.Is(err, io.EOF) {
			if i != len(frames) {
				t.Fatalf("got %d frames, want %d", i, len(frames))
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if f.Seq != uint64(i+1) {
			t.Errorf("frame %d: Seq %d", i, f.Seq)
		}
		if f.At.IsZero() {
			t.Errorf("frame %d: no capture time", i)
		}
		// PNG is lossless: exact pixels.
		l, r := halfMeans(f.Gray)
		checkClose(t, "left", l, float64(10+i*20), 0)
		checkClose(t, "right", r, float64(240-i*20), 0)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Next(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after Close: %v, want ErrClosed", err)
	}
}

func TestFolderSourceJPEGAndBadFile(t *testing.T) {
	dir := t.TempDir()
	// a.jpg: colour JPEG, goes through the YCbCr fast path.
	img := image.NewRGBA(image.Rect(0, 0, 32, 32))
	for i := range img.Pix {
		img.Pix[i] = 200
	}
	img.Set(0, 0, color.RGBA{0, 0, 0, 255})
	f, err := os.Create(filepath.Join(dir, "a.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	if err := jpeg.Encode(f, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// b.png: not a PNG at all.
	if err := os.WriteFile(filepath.Join(dir, "b.png"), []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	// c.png: fine.
	if err := WriteFolder(filepath.Join(dir, "c"), []*image.Gray{pattern(8, 8, 50, 50)}); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "c", "frame_0000.png"), filepath.Join(dir, "c.png")); err != nil {
		t.Fatal(err)
	}
	src, err := Open(context.Background(), "folder:"+dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx := context.Background()
	fr, err := src.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := halfMeans(fr.Gray); l < 190 || l > 210 {
		t.Errorf("jpeg mean %.1f, want about 200", l)
	}
	if _, err := src.Next(ctx); !errors.Is(err, ErrBadFrame) || !Retryable(err) {
		t.Fatalf("bad file: %v, want retryable ErrBadFrame", err)
	}
	if fr, err = src.Next(ctx); err != nil {
		t.Fatalf("after a bad file the source must move on: %v", err)
	}
	if l, _ := halfMeans(fr.Gray); l != 50 {
		t.Errorf("png mean %.1f, want 50", l)
	}
	if _, err := src.Next(ctx); !errors.Is(err, io.EOF) {
		t.Fatalf("end: %v, want io.EOF", err)
	}
}

func TestOpenNonexistentGivesClearError(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	for _, spec := range []string{
		missing + ".avi",
		"folder:" + missing,
		missing + "/frame_%04d.png",
		"/dev/video-kipass-none",
	} {
		_, err := Open(context.Background(), spec, Options{})
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("Open(%q) = %v, want ErrNotFound", spec, err)
			continue
		}
		if Retryable(err) {
			t.Errorf("Open(%q): a missing path must not be retryable", spec)
		}
		t.Logf("Open(%q): %v", spec, err)
	}
	for _, spec := range []string{"", "folder:", "gst:", "99999"} {
		if _, err := Open(context.Background(), spec, Options{}); !errors.Is(err, ErrBadSpec) {
			t.Errorf("Open(%q) = %v, want ErrBadSpec", spec, err)
		}
	}
}

func TestWriteFolderRejectsBadInput(t *testing.T) {
	if err := WriteFolder(t.TempDir(), nil); !errors.Is(err, ErrBadInput) {
		t.Errorf("no frames: %v", err)
	}
	if err := WriteFolder(t.TempDir(), []*image.Gray{nil}); !errors.Is(err, ErrBadInput) {
		t.Errorf("nil frame: %v", err)
	}
}
