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

func TestLiveGocvURLReopensAfterMidStreamFailure(t *testing.T) {
	// The same loopback MJPEG server as the pure-Go client's test, read
	// through VideoCapture's FFMPEG backend. Connection 1 dies after 5
	// frames.
	srv := newMJPEGServer(t, 10*time.Millisecond,
		func(c, i int) *image.Gray { return pattern(64, 48, uint8(60*c), 100) },
		func(c int) int {
			if c == 1 {
				return 5
			}
			return 0
		}, false)
	var hl healthLog
	live, err := OpenLive(srv.URL+"/stream.mjpg", Options{BackoffMin: 20 * time.Millisecond, Watchdog: 2 * time.Second, OnHealth: hl.record})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	seen := map[int]int{}
	for seen[2] < 3 {
		f, err := live.Next(ctx)
		if err != nil {
			t.Fatalf("Next: %v (seen %v)", err, seen)
		}
		l, _ := halfMeans(f.Gray)
		seen[int(l/60+0.5)]++
	}
	if got := hl.get(); !equalStates(got, []State{StateOK, StateReopening, StateOK}) {
		t.Errorf("health changes %v", got)
	}
	t.Logf("frames per connection %v, health %+v", seen, live.Health())
}

func TestGStreamerPipeline(t *testing.T) {
	src, err := Open(context.Background(), "gst:videotestsrc num-buffers=12 pattern=white ! video/x-raw,width=64,height=48 ! videoconvert ! appsink",
		Options{OpenTimeout: 10 * time.Second})
	if err != nil {
		t.Skipf("this OpenCV cannot open a GStreamer pipeline: %v", err)
	}
	defer src.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f, err := src.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := halfMeans(f.Gray); l < 240 || f.Gray.Rect.Dx() != 64 {
		t.Errorf("white 64x48 test frame: mean %.1f, size %v", l, f.Gray.Rect)
	}
}

func TestImageSequenceWithChangingFrameSize(t *testing.T) {
	dir := t.TempDir()
	if err := WriteFolder(dir, []*image.Gray{pattern(64, 48, 10, 10), pattern(32, 24, 90, 90), pattern(64, 48, 170, 170)}); err != nil {
		t.Fatal(err)
	}
	src, err := Open(context.Background(), filepath.Join(dir, "frame_%04d.png"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	got := readAll(t, src)
	if len(got) == 0 {
		t.Fatal("no frames")
	}
	for _, f := range got {
		if l, _ := halfMeans(f.Gray); l != 10 && l != 90 && l != 170 {
			t.Errorf("frame %d (%v): mean %v", f.Seq, f.Gray.Rect, l)
		}
	}
	t.Logf("%d frames through a size change", len(got))
}
