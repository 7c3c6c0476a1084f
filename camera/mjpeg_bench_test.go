package camera

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"
)

// colourJPEG encodes g as a colour (YCbCr 4:2:0) JPEG, as cameras send
// frames.
func colourJPEG(t testing.TB, g *image.Gray) []byte {
	t.Helper()
	b := g.Bounds()
	yc := image.NewYCbCr(b, image.YCbCrSubsampleRatio420)
	for y := 0; y < b.Dy(); y++ {
		copy(yc.Y[y*yc.YStride:y*yc.YStride+b.Dx()], g.Pix[y*g.Stride:y*g.Stride+b.Dx()])
	}
	for i := range yc.Cb {
		yc.Cb[i], yc.Cr[i] = 128, 128
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, yc, &jpeg.Options{Quality: 85}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// serveParts serves the JPEGs in turn as an MJPEG stream, n parts in all
// (as fast as the client reads them), then ends the stream.
func serveParts(t testing.TB, frames [][]byte, n int) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "multipart/x-mixed-replace; boundary=kipassframe")
		w.WriteHeader(http.StatusOK)
		for i := range n {
			f := frames[i%len(frames)]
			fmt.Fprintf(w, "--kipassframe\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n", len(f))
			if _, err := w.Write(f); err != nil {
				return
			}
			fmt.Fprint(w, "\r\n")
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestMJPEGColourFrames reads colour JPEGs whose luma plane is wider than
// the picture (a width that is no multiple of 16): the grey frame holds
// the picture's luminance, row by row.
func TestMJPEGColourFrames(t *testing.T) {
	want := []*image.Gray{pattern(150, 100, 40, 200), pattern(150, 100, 200, 40)}
	frames := [][]byte{colourJPEG(t, want[0]), colourJPEG(t, want[1])}
	srv := serveParts(t, frames, 6)
	src, err := Open(context.Background(), "mjpeg+"+srv.URL+"/stream", Options{LatestOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := 0
	for {
		f, err := src.Next(ctx)
		if err != nil {
			if !errors.Is(err, ErrReadFailed) {
				t.Fatalf("end of stream: %v, want ErrReadFailed", err)
			}
			break
		}
		got++
		if b := f.Gray.Bounds(); b.Dx() != 150 || b.Dy() != 100 || f.Gray.Stride < 150 {
			t.Fatalf("frame %d: bounds %v stride %d", f.Seq, b, f.Gray.Stride)
		}
		w := want[(f.Seq-1)%2]
		var diff, n float64
		for y := 0; y < 100; y++ {
			for x := 0; x < 150; x++ {
				d := float64(f.Gray.GrayAt(x, y).Y) - float64(w.GrayAt(x, y).Y)
				diff += max(d, -d)
				n++
			}
		}
		if diff/n > 4 {
			t.Errorf("frame %d: mean difference %.1f grey levels from the picture sent", f.Seq, diff/n)
		}
	}
	if got == 0 {
		t.Fatal("no frame read")
	}
}

// BenchmarkMJPEG720p reads a 1280×720 colour MJPEG stream on loopback and
// reports the memory allocated and the time per frame read (JPEG decode
// and grey frame included).
func BenchmarkMJPEG720p(b *testing.B) {
	frames := [][]byte{colourJPEG(b, pattern(1280, 720, 30, 220)), colourJPEG(b, pattern(1280, 720, 220, 30))}
	srv := serveParts(b, frames, b.N)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	b.ResetTimer()
	src, err := Open(context.Background(), "mjpeg+"+srv.URL+"/stream", Options{})
	if err != nil {
		b.Fatal(err)
	}
	var last uint64
	for {
		f, err := src.Next(context.Background())
		if err != nil {
			break
		}
		last = f.Seq
	}
	b.StopTimer()
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	src.Close()
	if last == 0 {
		b.Fatal("no frame read")
	}
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(last), "B/frame")
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(last), "ns/frame")
}
