package soak

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kipass/kipass/clock"
	"github.com/kipass/kipass/screen"
)

// boundary separates the parts of the MJPEG stream.
const boundary = "kipassframe"

// jpegQuality is the quality of the stream's JPEG frames, about what an IP
// camera sends.
const jpegQuality = 85

// scene is the frames the stream cycles through until the scene changes:
// the empty entrance, or one visitor's phone.
type scene struct {
	frames [][]byte
}

// stream serves one scene at a time as multipart/x-mixed-replace MJPEG,
// paced at a fixed frame rate, the way an IP camera does.
type stream struct {
	clk    clock.Clock
	period time.Duration
	cur    atomic.Pointer[scene]
	served atomic.Int64

	mu   sync.Mutex
	ln   net.Listener
	srv  *http.Server
	done chan struct{}
}

// startStream serves the stream on a loopback port, starting with first.
func startStream(clk clock.Clock, fps float64, first *scene) (*stream, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("soak: stream: %w", err)
	}
	s := &stream{clk: clk, period: time.Duration(float64(time.Second) / fps), ln: ln, done: make(chan struct{})}
	s.cur.Store(first)
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln)
	return s, nil
}

// URL is the stream's address as the agent's source spec names it.
func (s *stream) URL() string { return "mjpeg+http://" + s.ln.Addr().String() + "/stream" }

// show makes sc the scene of the next frames.
func (s *stream) show(sc *scene) { s.cur.Store(sc) }

// Served is the number of frames written to clients.
func (s *stream) Served() int64 { return s.served.Load() }

// Close stops serving and ends the client's stream.
func (s *stream) Close() error {
	s.mu.Lock()
	select {
	case <-s.done:
	default:
		close(s.done)
	}
	s.mu.Unlock()
	return s.srv.Close()
}

// serve writes frames at the stream's rate until the client leaves or the
// stream closes. Each part carries its Content-Length, so the reader has a
// frame as soon as its bytes are in.
func (s *stream) serve(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "no streaming", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "multipart/x-mixed-replace; boundary="+boundary)
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	next := s.clk.Now()
	var i int
	var hdr bytes.Buffer
	for {
		sc := s.cur.Load()
		frame := sc.frames[i%len(sc.frames)]
		i++
		hdr.Reset()
		hdr.WriteString("--" + boundary + "\r\nContent-Type: image/jpeg\r\nContent-Length: ")
		hdr.WriteString(strconv.Itoa(len(frame)))
		hdr.WriteString("\r\n\r\n")
		if _, err := w.Write(hdr.Bytes()); err != nil {
			return
		}
		if _, err := w.Write(frame); err != nil {
			return
		}
		if _, err := w.Write([]byte("\r\n")); err != nil {
			return
		}
		fl.Flush()
		s.served.Add(1)
		next = next.Add(s.period)
		wait := next.Sub(s.clk.Now())
		if wait < -s.period {
			next = s.clk.Now() // fell behind (a paused machine): no burst to catch up
		}
		select {
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		case <-s.clk.After(max(wait, 0)):
		}
	}
}

// sceneOptions places the phone as visitor v holds it at the door, with
// tremor t (a small shift and roll between frames). The wall behind it is
// the same in every frame.
func sceneOptions(w, h int, v, t int64) screen.Options {
	return screen.Options{
		Width: w, Height: h, Scale: 0.5, Seed: 1,
		DX: int(v%7-3)*12 + int(t)*2, DY: int(v%5-2)*10 + int(t), Roll: float64(v%9-4) + 0.3*float64(t),
		TiltX: float64(v%7 - 3), Moire: 0.1, Glare: 0.15, GlareU: 0.2, GlareV: -0.2,
	}
}

// noisy adds the sensor's noise to g, different for each seed.
func noisy(g *image.Gray, seed int64) *image.Gray {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x50a6))
	for i, p := range g.Pix {
		g.Pix[i] = uint8(min(max(int(p)+rng.IntN(5)-2, 0), 255))
	}
	return g
}

// emptyScene is the entrance with nobody at it, in n noisy variants.
func emptyScene(w, h, n int) (*scene, error) {
	sc := &scene{}
	for i := range n {
		b, err := encodeJPEG(noisy(screen.Blank(sceneOptions(w, h, 0, 0)), int64(i)))
		if err != nil {
			return nil, err
		}
		sc.frames = append(sc.frames, b)
	}
	return sc, nil
}

// visitorScene is visitor v's phone showing text, in n variants (a
// trembling hand, sensor noise).
func visitorScene(text string, w, h, n int, v int64) (*scene, error) {
	sc := &scene{}
	for i := range n {
		img, err := screen.Render(text, sceneOptions(w, h, v, int64(i)))
		if err != nil {
			return nil, fmt.Errorf("soak: render: %w", err)
		}
		b, err := encodeJPEG(noisy(img, v*int64(n)+int64(i)))
		if err != nil {
			return nil, err
		}
		sc.frames = append(sc.frames, b)
	}
	return sc, nil
}

// encodeJPEG encodes a grey frame as a colour (YCbCr 4:2:0) JPEG, as a
// camera sends it, so the agent's reader takes its usual path.
func encodeJPEG(g *image.Gray) ([]byte, error) {
	b := g.Bounds()
	yc := image.NewYCbCr(b, image.YCbCrSubsampleRatio420)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		copy(yc.Y[(y-b.Min.Y)*yc.YStride:(y-b.Min.Y)*yc.YStride+b.Dx()], g.Pix[(y-b.Min.Y)*g.Stride:(y-b.Min.Y)*g.Stride+b.Dx()])
	}
	for i := range yc.Cb {
		yc.Cb[i], yc.Cr[i] = 128, 128
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, yc, &jpeg.Options{Quality: jpegQuality}); err != nil {
		return nil, fmt.Errorf("soak: jpeg: %w", err)
	}
	return buf.Bytes(), nil
}
