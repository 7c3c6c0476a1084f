package camera

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxMJPEGPart bounds one JPEG part, so a broken stream cannot exhaust
// memory.
const maxMJPEGPart = 16 << 20

// mjpegSource is the pure-Go MJPEG-over-HTTP client: a GET whose answer is
// multipart/x-mixed-replace with one JPEG per part, as served by IP
// cameras, mjpg-streamer and Android camera apps on localhost. It keeps
// only the newest frame.
type mjpegSource struct {
	url    string
	o      Options
	slot   *frameSlot
	cancel context.CancelFunc
	done   chan struct{}
}

// openMJPEG connects to url and checks that it serves a multipart stream.
// The response headers must arrive within Options.OpenTimeout.
func openMJPEG(ctx context.Context, url string, o Options) (Source, error) {
	rctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, url, nil)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("camera: mjpeg %s: %v: %w", Redact(url), err, ErrBadSpec)
	}
	type result struct {
		resp *http.Response
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		ch <- result{resp, err}
	}()
	var resp *http.Response
	select {
	case r := <-ch:
		if r.err != nil {
			cancel()
			return nil, fmt.Errorf("camera: mjpeg %s: %v: %w", Redact(url), r.err, ErrOpenFailed)
		}
		resp = r.resp
	case <-o.Clock.After(o.OpenTimeout):
		cancel()
		return nil, fmt.Errorf("camera: mjpeg %s: no answer after %v: %w", Redact(url), o.OpenTimeout, ErrOpenTimeout)
	case <-ctx.Done():
		cancel()
		return nil, fmt.Errorf("camera: mjpeg %s: %w", Redact(url), ctx.Err())
	}
	fail := func(format string, args ...any) (Source, error) {
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("camera: mjpeg %s: "+format+": %w", append([]any{Redact(url)}, append(args, ErrOpenFailed)...)...)
	}
	if resp.StatusCode != http.StatusOK {
		return fail("HTTP status %s", resp.Status)
	}
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") || params["boundary"] == "" {
		return fail("content type %q is not a multipart MJPEG stream", resp.Header.Get("Content-Type"))
	}
	// Some servers declare the boundary with the delimiter's leading dashes.
	boundary := strings.TrimPrefix(params["boundary"], "--")
	s := &mjpegSource{url: url, o: o, slot: newSlot(true), cancel: cancel, done: make(chan struct{})}
	s.slot.noReuse = true
	go s.read(resp.Body, boundary)
	return s, nil
}

// read is the reader goroutine: one JPEG per part.
func (s *mjpegSource) read(body io.ReadCloser, boundary string) {
	defer close(s.done)
	defer body.Close()
	mr := multipart.NewReader(body, boundary)
	var (
		seq, bad    uint64
		lastDecoded time.Time
		buf         bytes.Buffer
	)
	for {
		part, err := mr.NextPart()
		if err != nil {
			if s.slot.closed() {
				return
			}
			if errors.Is(err, io.EOF) {
				err = errors.New("server closed the stream")
			}
			s.slot.fail(fmt.Errorf("camera: mjpeg %s: %v: %w", Redact(s.url), err, ErrReadFailed))
			return
		}
		buf.Reset()
		var n int64
		if cl, cerr := strconv.ParseInt(part.Header.Get("Content-Length"), 10, 64); cerr == nil && cl > 0 && cl <= maxMJPEGPart {
			// With a length the frame is complete as soon as its bytes are
			// in; without one, its end shows only when the next part's
			// boundary arrives, one frame period later.
			n, err = io.CopyN(&buf, part, cl)
		} else {
			n, err = buf.ReadFrom(io.LimitReader(part, maxMJPEGPart+1))
		}
		if err != nil {
			if s.slot.closed() {
				return
			}
			s.slot.fail(fmt.Errorf("camera: mjpeg %s: reading part: %v: %w", Redact(s.url), err, ErrReadFailed))
			return
		}
		at := s.o.Clock.Now()
		seq++
		if d := time.Duration(s.slot.interval.Load()); d > 0 && at.Sub(lastDecoded) < d {
			continue // low-power mode: skip the JPEG decode
		}
		if n > maxMJPEGPart {
			bad++
			s.logBad(bad, seq, "part larger than 16 MiB")
			continue
		}
		img, err := jpeg.Decode(bytes.NewReader(buf.Bytes()))
		if err != nil {
			bad++
			s.logBad(bad, seq, err.Error())
			continue
		}
		lastDecoded = at
		if !s.slot.put(Frame{Gray: s.gray(img), At: at, Seq: seq}) {
			return
		}
	}
}

// logBad logs the first bad part and then every hundredth.
func (s *mjpegSource) logBad(bad, seq uint64, why string) {
	if bad == 1 || bad%100 == 0 {
		s.o.Log.Warn("camera: mjpeg part skipped", "source", Redact(s.url), "seq", seq, "bad_parts", bad, "why", why)
	}
}

// Next returns the newest frame.
func (s *mjpegSource) Next(ctx context.Context) (Frame, error) { return s.slot.next(ctx) }

// setInterval paces decoding (low-power mode).
func (s *mjpegSource) setInterval(d time.Duration) { s.slot.setInterval(d) }

// Close ends the stream.
func (s *mjpegSource) Close() error {
	s.slot.close()
	s.cancel()
	<-s.done
	return nil
}

// gray takes the luminance of a decoded JPEG. For the common YCbCr case the
// grey frame is the JPEG's own luma plane, neither copied nor allocated:
// each JPEG is decoded into new memory, so the caller owns it alone.
// (A 1280×720 frame then costs the decoder's 1.4 MB allocation only, not
// another 0.9 MB for a copy: BenchmarkMJPEG720p.)
func (s *mjpegSource) gray(img image.Image) *image.Gray {
	m, ok := img.(*image.YCbCr)
	if !ok {
		return toGray(img)
	}
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	if w == 0 || h == 0 {
		return image.NewGray(image.Rect(0, 0, w, h))
	}
	off := m.YOffset(b.Min.X, b.Min.Y)
	return &image.Gray{Pix: m.Y[off : off+(h-1)*m.YStride+w], Stride: m.YStride, Rect: image.Rect(0, 0, w, h)}
}
