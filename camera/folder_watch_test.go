package camera

import (
	"context"
	"errors"
	"image"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestWatchedFolderLiveReadsLaterImagesOnce: a watched folder under the
// self-healing camera waits while empty (health "watching", no reopen even
// with a watchdog shorter than the wait), reads each image added later
// once, in name order, and reads again an image caught half-written.
func TestWatchedFolderLiveReadsLaterImagesOnce(t *testing.T) {
	dir := t.TempDir()
	live, err := OpenLive("folder:"+dir, Options{WatchFolder: true, Watchdog: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	frames := make(chan Frame, 8)
	errs := make(chan error, 1)
	go func() {
		for {
			f, err := live.Next(ctx)
			if err != nil {
				errs <- err
				return
			}
			frames <- f
		}
	}()
	// Empty for a while, longer than the watchdog: waiting, not failing.
	time.Sleep(700 * time.Millisecond)
	if h := live.Health(); h.State != StateWatching || h.Reopens > 1 {
		t.Fatalf("an empty watched folder: %+v", h)
	}

	// A half-written image, then the whole one under the same name.
	stage := t.TempDir()
	imgs := []*image.Gray{pattern(64, 48, 20, 220), pattern(64, 48, 200, 40)}
	if err := WriteFolder(stage, imgs); err != nil {
		t.Fatal(err)
	}
	whole, err := os.ReadFile(filepath.Join(stage, "frame_0001.png"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "b.png"), whole[:len(whole)/3], 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * folderPoll)
	if err := os.WriteFile(filepath.Join(dir, "b.png"), whole, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(stage, "frame_0000.png"), filepath.Join(dir, "a.png")); err != nil {
		t.Fatal(err)
	}
	var got []*image.Gray
	for len(got) < 2 {
		select {
		case f := <-frames:
			got = append(got, f.Gray)
		case err := <-errs:
			t.Fatalf("next: %v", err)
		case <-ctx.Done():
			t.Fatalf("read %d of the 2 images added later", len(got))
		}
	}
	// b.png, caught half-written first, is read whole once it changed;
	// both became readable in one listing, so they come in name order.
	if !sameGray(got[0], imgs[0]) || !sameGray(got[1], imgs[1]) {
		t.Fatal("the images read are not a.png then b.png as added")
	}
	// Each image is read once: nothing more arrives, and the source waits.
	select {
	case <-frames:
		t.Fatal("an image was read twice")
	case err := <-errs:
		t.Fatalf("next: %v", err)
	case <-time.After(5 * folderPoll):
	}
	if h := live.Health(); h.State != StateWatching {
		t.Fatalf("after the images: %+v", h)
	}
}

// TestUnwatchedFolderStillEnds: without WatchFolder a folder is read once.
func TestUnwatchedFolderStillEnds(t *testing.T) {
	dir := t.TempDir()
	if err := WriteFolder(dir, []*image.Gray{pattern(32, 24, 10, 240)}); err != nil {
		t.Fatal(err)
	}
	live, err := OpenLive("folder:"+dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := live.Next(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := live.Next(ctx); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("after the only image: %v, want the end of the source", err)
	}
}

func sameGray(a, b *image.Gray) bool {
	if a.Rect.Size() != b.Rect.Size() {
		return false
	}
	for y := 0; y < a.Rect.Dy(); y++ {
		for x := 0; x < a.Rect.Dx(); x++ {
			if a.GrayAt(a.Rect.Min.X+x, a.Rect.Min.Y+y) != b.GrayAt(b.Rect.Min.X+x, b.Rect.Min.Y+y) {
				return false
			}
		}
	}
	return true
}
