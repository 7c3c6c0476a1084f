package camera

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// mjpegServer serves multipart MJPEG on loopback. Connection c (from 1)
// gets frames from frame(c, i) every period; after dieAfter(c) frames
// (if > 0) the handler either closes the stream or, with hang, stops
// sending while keeping it open.
type mjpegServer struct {
	*httptest.Server
	conns    atomic.Int64
	period   time.Duration
	frame    func(conn, i int) *image.Gray
	dieAfter func(conn int) int
	hang     bool
}

func newMJPEGServer(t *testing.T, period time.Duration, frame func(conn, i int) *image.Gray, dieAfter func(int) int, hang bool) *mjpegServer {
	s := &mjpegServer{period: period, frame: frame, dieAfter: dieAfter, hang: hang}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *mjpegServer) serve(w http.ResponseWriter, r *http.Request) {
	c := int(s.conns.Add(1))
	w.Header().Set("Content-Type", "multipart/x-mixed-replace; boundary=kipassframe")
	w.WriteHeader(http.StatusOK)
	fl := w.(http.Flusher)
	var buf bytes.Buffer
	for i := 0; ; i++ {
		if n := s.dieAfter(c); n > 0 && i >= n {
			if s.hang {
				<-r.Context().Done()
			}
			return
		}
		buf.Reset()
		if err := jpeg.Encode(&buf, s.frame(c, i), &jpeg.Options{Quality: 90}); err != nil {
			return
		}
		fmt.Fprintf(w, "--kipassframe\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n", buf.Len())
		w.Write(buf.Bytes())
		fmt.Fprint(w, "\r\n")
		fl.Flush()
		select {
		case <-time.After(s.period):
		case <-r.Context().Done():
			return
		}
	}
}

func TestMJPEGClientReadsLoopbackStream(t *testing.T) {
	const n = 20
	srv := newMJPEGServer(t, 20*time.Millisecond,
		func(_, i int) *image.Gray { return pattern(160, 120, uint8(10+i*10), 128) },
		func(int) int { return n }, false)
	src, err := Open(context.Background(), "mjpeg+"+srv.URL+"/stream", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got int
	var lastSeq uint64
	for {
		f, err := src.Next(ctx)
		if err != nil {
			if !errors.Is(err, ErrReadFailed) {
				t.Fatalf("end of stream: %v, want ErrReadFailed", err)
			}
			break
		}
		got++
		if f.Seq <= lastSeq {
			t.Errorf("Seq %d after %d", f.Seq, lastSeq)
		}
		lastSeq = f.Seq
		l, r := halfMeans(f.Gray)
		checkClose(t, fmt.Sprintf("frame %d left", f.Seq), l, float64(10+int(f.Seq-1)*10), 3)
		checkClose(t, "right", r, 128, 3)
	}
	if got < n/2 {
		t.Errorf("read %d of %d frames", got, n)
	}
	t.Logf("read %d of %d frames, last Seq %d", got, n, lastSeq)
}

func TestMJPEGClientRejectsNonStreams(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/html" {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<p>hello</p>"))
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	for _, path := range []string{"/html", "/missing"} {
		_, err := Open(context.Background(), "mjpeg+"+srv.URL+path, Options{})
		if !errors.Is(err, ErrOpenFailed) {
			t.Errorf("%s: %v, want ErrOpenFailed", path, err)
		}
		t.Logf("%s: %v", path, err)
	}
	// Nothing listening.
	_, err := Open(context.Background(), "mjpeg+http://127.0.0.1:1/x", Options{})
	if !errors.Is(err, ErrOpenFailed) {
		t.Errorf("closed port: %v, want ErrOpenFailed", err)
	}
}

func TestMJPEGOpenTimesOut(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // never answers
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	_, err := Open(context.Background(), "mjpeg+"+srv.URL, Options{OpenTimeout: 100 * time.Millisecond})
	if !errors.Is(err, ErrOpenTimeout) {
		t.Fatalf("%v, want ErrOpenTimeout", err)
	}
}

func TestMJPEGClientSkipsBadPart(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "multipart/x-mixed-replace; boundary=--b")
		var good bytes.Buffer
		jpeg.Encode(&good, pattern(32, 32, 200, 200), nil)
		for _, part := range [][]byte{[]byte("this is not a JPEG"), good.Bytes()} {
			fmt.Fprintf(w, "--b\r\nContent-Type: image/jpeg\r\n\r\n")
			w.Write(part)
			fmt.Fprint(w, "\r\n")
		}
		// Without Content-Length a part ends only at the next boundary.
		fmt.Fprint(w, "--b\r\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer srv.Close()
	var logs bytes.Buffer
	src, err := Open(context.Background(), "mjpeg+"+srv.URL, Options{Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	f, err := src.Next(ctx)
	src.Close()
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := halfMeans(f.Gray); f.Seq != 2 || l < 195 || l > 205 {
		t.Errorf("frame Seq %d mean %.1f, want the good second part", f.Seq, l)
	}
	if !strings.Contains(logs.String(), "mjpeg part skipped") {
		t.Errorf("bad part not logged:\n%s", logs.String())
	}
}
