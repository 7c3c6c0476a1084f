//go:build cgo && !nocv

package camera

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"runtime"
	"sync"
	"time"

	"gocv.io/x/gocv"
)

// HaveOpenCV reports whether this build links gocv. It is true here.
const HaveOpenCV = true

// openCapture opens a VideoCapture for p within o.OpenTimeout. OpenCV
// cannot be interrupted, so a hung open is abandoned: its goroutine closes
// the capture if it ever returns.
func openCapture(ctx context.Context, p parsedSpec, o Options) (*gocv.VideoCapture, error) {
	type result struct {
		vc  *gocv.VideoCapture
		err error
	}
	ch := make(chan result, 1)
	go func() {
		vc, err := openCaptureNow(p)
		if err == nil && !vc.IsOpened() {
			vc.Close()
			vc, err = nil, errors.New("VideoCapture not opened")
		}
		if err == nil && p.kind == kindDevice {
			applyDeviceOptions(vc, o)
		}
		ch <- result{vc, err}
	}()
	abandon := func() {
		go func() {
			if r := <-ch; r.vc != nil {
				r.vc.Close()
			}
		}()
	}
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("camera: open %q: %v: %w", p.raw, r.err, ErrOpenFailed)
		}
		return r.vc, nil
	case <-o.Clock.After(o.OpenTimeout):
		abandon()
		return nil, fmt.Errorf("camera: open %q: no answer after %v: %w", p.raw, o.OpenTimeout, ErrOpenTimeout)
	case <-ctx.Done():
		abandon()
		return nil, fmt.Errorf("camera: open %q: %w", p.raw, ctx.Err())
	}
}

func openCaptureNow(p parsedSpec) (*gocv.VideoCapture, error) {
	switch p.kind {
	case kindDevice:
		api := gocv.VideoCaptureAny
		if runtime.GOOS == "linux" {
			api = gocv.VideoCaptureV4L2
		}
		if p.target == "" {
			return gocv.VideoCaptureDeviceWithAPI(p.index, api)
		}
		return gocv.VideoCaptureFileWithAPI(p.target, api)
	case kindURL:
		// FFMPEG, not GStreamer: souphttpsrc was seen to hang on open.
		return gocv.VideoCaptureFileWithAPI(p.target, gocv.VideoCaptureFFmpeg)
	case kindPipeline:
		return gocv.VideoCaptureFileWithAPI(p.target, gocv.VideoCaptureGstreamer)
	case kindSequence:
		return gocv.VideoCaptureFileWithAPI(p.target, gocv.VideoCaptureImages)
	default:
		return gocv.VideoCaptureFile(p.target)
	}
}

// applyDeviceOptions asks a device for the requested format. FOURCC goes
// first: many UVC cameras only offer high resolutions and frame rates in
// MJPG.
func applyDeviceOptions(vc *gocv.VideoCapture, o Options) {
	if o.FourCC != "" {
		vc.Set(gocv.VideoCaptureFOURCC, vc.ToCodec(o.FourCC))
	}
	if o.Width > 0 {
		vc.Set(gocv.VideoCaptureFrameWidth, float64(o.Width))
	}
	if o.Height > 0 {
		vc.Set(gocv.VideoCaptureFrameHeight, float64(o.Height))
	}
	if o.FPS > 0 {
		vc.Set(gocv.VideoCaptureFPS, o.FPS)
	}
	// Keep the driver's own queue short so frames are fresh.
	vc.Set(gocv.VideoCaptureBufferSize, 1)
}

// cvSource reads a VideoCapture on its own goroutine, which owns the
// capture and its Mats. Files hand over every frame (the reader waits for
// the caller); live sources keep only the newest frame.
type cvSource struct {
	p      parsedSpec
	o      Options
	latest bool

	mu      sync.Mutex
	slot    *Frame // the frame waiting for the caller
	spare   []byte // pixels of a dropped frame, reused by the reader
	err     error  // the reader's final error (io.EOF, ErrReadFailed)
	ready   chan struct{}
	taken   chan struct{}
	stop    chan struct{}
	done    chan struct{}
	closing sync.Once
}

func openCV(ctx context.Context, p parsedSpec, o Options) (Source, error) {
	vc, err := openCapture(ctx, p, o)
	if err != nil {
		return nil, err
	}
	s := &cvSource{
		p:      p,
		o:      o,
		latest: o.LatestOnly || p.live(),
		ready:  make(chan struct{}, 1),
		taken:  make(chan struct{}, 1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go s.read(vc)
	return s, nil
}

// read is the reader goroutine.
func (s *cvSource) read(vc *gocv.VideoCapture) {
	defer close(s.done)
	defer vc.Close()
	mat := gocv.NewMat()
	defer mat.Close()
	gray := gocv.NewMat()
	defer gray.Close()
	var seq uint64
	var size image.Point
	for {
		select {
		case <-s.stop:
			return
		default:
		}
		if !vc.Read(&mat) || mat.Empty() {
			err := io.EOF
			if s.p.live() {
				err = fmt.Errorf("camera: read %q: stream ended: %w", s.p.raw, ErrReadFailed)
			}
			s.finish(err)
			return
		}
		at := s.o.Clock.Now()
		seq++
		f, err := s.convert(mat, &gray)
		if err != nil {
			s.o.Logger.Warn("camera: frame dropped", "source", s.p.raw, "seq", seq, "err", err)
			continue
		}
		if p := f.Rect.Size(); p != size {
			if size != (image.Point{}) {
				s.o.Logger.Warn("camera: frame size changed", "source", s.p.raw, "from", size, "to", p)
			}
			size = p
		}
		if !s.publish(Frame{Gray: f, At: at, Seq: seq}) {
			return
		}
	}
}

// convert turns a BGR, BGRA or grey Mat into an image.Gray, reusing a
// dropped frame's pixels when it can.
func (s *cvSource) convert(mat gocv.Mat, gray *gocv.Mat) (*image.Gray, error) {
	src := mat
	switch mat.Channels() {
	case 1:
	case 3:
		gocv.CvtColor(mat, gray, gocv.ColorBGRToGray)
		src = *gray
	case 4:
		gocv.CvtColor(mat, gray, gocv.ColorBGRAToGray)
		src = *gray
	default:
		return nil, fmt.Errorf("camera: %d-channel frame: %w", mat.Channels(), ErrBadFrame)
	}
	if src.Type() != gocv.MatTypeCV8UC1 || !src.IsContinuous() {
		return nil, fmt.Errorf("camera: frame of Mat type %v: %w", src.Type(), ErrBadFrame)
	}
	w, h := src.Cols(), src.Rows()
	data, err := src.DataPtrUint8()
	if err != nil || len(data) < w*h {
		return nil, fmt.Errorf("camera: frame data: %v: %w", err, ErrBadFrame)
	}
	s.mu.Lock()
	pix := s.spare
	s.spare = nil
	s.mu.Unlock()
	if cap(pix) < w*h {
		pix = make([]byte, w*h)
	}
	pix = pix[:w*h]
	copy(pix, data)
	return &image.Gray{Pix: pix, Stride: w, Rect: image.Rect(0, 0, w, h)}, nil
}

// publish hands f to the caller. In latest mode it replaces an untaken
// frame; otherwise it waits until the caller took the previous one. It
// returns false when the source is closing.
func (s *cvSource) publish(f Frame) bool {
	if !s.latest {
		for {
			s.mu.Lock()
			busy := s.slot != nil
			s.mu.Unlock()
			if !busy {
				break
			}
			select {
			case <-s.taken:
			case <-s.stop:
				return false
			}
		}
	}
	s.mu.Lock()
	if s.slot != nil {
		s.spare = s.slot.Gray.Pix
	}
	s.slot = &f
	s.mu.Unlock()
	select {
	case s.ready <- struct{}{}:
	default:
	}
	return true
}

func (s *cvSource) finish(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// Next returns the waiting frame, or waits for one.
func (s *cvSource) Next(ctx context.Context) (Frame, error) {
	for {
		s.mu.Lock()
		if f := s.slot; f != nil {
			s.slot = nil
			s.mu.Unlock()
			select {
			case s.taken <- struct{}{}:
			default:
			}
			return *f, nil
		}
		err := s.err
		s.mu.Unlock()
		if err != nil {
			return Frame{}, err
		}
		select {
		case <-s.ready:
		case <-s.stop:
			return Frame{}, ErrClosed
		case <-ctx.Done():
			return Frame{}, ctx.Err()
		}
	}
}

// Close stops the reader and releases the capture. It waits a short while
// for a read in progress; a backend stuck in a read is left to finish on
// its own.
func (s *cvSource) Close() error {
	s.closing.Do(func() {
		close(s.stop)
		s.mu.Lock()
		if s.err == nil {
			s.err = ErrClosed
		}
		s.mu.Unlock()
	})
	select {
	case <-s.done:
	case <-time.After(2 * time.Second):
	}
	return nil
}

// WriteVideo writes frames as an MJPG .avi with gocv's VideoWriter. All
// frames must have the size of the first one.
func WriteVideo(path string, frames []*image.Gray, fps float64) error {
	if len(frames) == 0 || frames[0] == nil {
		return fmt.Errorf("camera: write video %s: no frames: %w", path, ErrBadInput)
	}
	if !(fps > 0) {
		return fmt.Errorf("camera: write video %s: fps %v: %w", path, fps, ErrBadInput)
	}
	size := frames[0].Rect.Size()
	if size.X < 1 || size.Y < 1 {
		return fmt.Errorf("camera: write video %s: empty first frame: %w", path, ErrBadInput)
	}
	vw, err := gocv.VideoWriterFile(path, "MJPG", fps, size.X, size.Y, true)
	if err != nil {
		return fmt.Errorf("camera: write video %s: %w", path, err)
	}
	if !vw.IsOpened() {
		vw.Close()
		return fmt.Errorf("camera: write video %s: VideoWriter did not open: %w", path, ErrOpenFailed)
	}
	buf := make([]byte, size.X*size.Y)
	bgr := gocv.NewMat()
	defer bgr.Close()
	for i, g := range frames {
		if g == nil || g.Rect.Size() != size {
			vw.Close()
			return fmt.Errorf("camera: write video %s: frame %d is nil or not %dx%d: %w", path, i, size.X, size.Y, ErrBadInput)
		}
		for y := 0; y < size.Y; y++ {
			off := g.PixOffset(g.Rect.Min.X, g.Rect.Min.Y+y)
			copy(buf[y*size.X:(y+1)*size.X], g.Pix[off:off+size.X])
		}
		m, err := gocv.NewMatFromBytes(size.Y, size.X, gocv.MatTypeCV8UC1, buf)
		if err != nil {
			vw.Close()
			return fmt.Errorf("camera: write video %s: frame %d: %w", path, i, err)
		}
		gocv.CvtColor(m, &bgr, gocv.ColorGrayToBGR)
		m.Close()
		if err := vw.Write(bgr); err != nil {
			vw.Close()
			return fmt.Errorf("camera: write video %s: frame %d: %w", path, i, err)
		}
	}
	if err := vw.Close(); err != nil {
		return fmt.Errorf("camera: write video %s: close: %w", path, err)
	}
	return nil
}
