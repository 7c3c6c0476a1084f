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

// cvDriver adapts a VideoCapture to propDriver.
type cvDriver struct{ vc *gocv.VideoCapture }

var cvProps = map[control]gocv.VideoCaptureProperties{
	ctlAutoFocus:    gocv.VideoCaptureAutoFocus,
	ctlFocus:        gocv.VideoCaptureFocus,
	ctlAutoExposure: gocv.VideoCaptureAutoExposure,
	ctlExposure:     gocv.VideoCaptureExposure,
	ctlWidth:        gocv.VideoCaptureFrameWidth,
	ctlHeight:       gocv.VideoCaptureFrameHeight,
	ctlFPS:          gocv.VideoCaptureFPS,
}

func (d cvDriver) set(c control, v float64) { d.vc.Set(cvProps[c], v) }
func (d cvDriver) get(c control) float64    { return d.vc.Get(cvProps[c]) }

// applyDeviceOptions asks a device for the requested format, focus and
// exposure. FOURCC goes first: many UVC cameras only offer high
// resolutions and frame rates in MJPG.
func applyDeviceOptions(vc *gocv.VideoCapture, k *controls) {
	if k.o.FourCC != "" {
		want := vc.ToCodec(k.o.FourCC)
		vc.Set(gocv.VideoCaptureFOURCC, want)
		if got := vc.Get(gocv.VideoCaptureFOURCC); got != want && k.o.warnOnce.first(k.src+"|fourcc") {
			k.o.Log.Warn("camera: driver refused pixel format", "source", k.src, "fourcc", k.o.FourCC, "got", vc.CodecString())
		}
	}
	k.applyFormat()
	// Keep the driver's own queue short so frames are fresh.
	vc.Set(gocv.VideoCaptureBufferSize, 1)
	k.applyFocusExposure()
}

// cvSource reads a VideoCapture on its own goroutine, which owns the
// capture, its Mats and its controls. Files hand over every frame; live
// sources keep only the newest.
type cvSource struct {
	p     parsedSpec
	o     Options
	slot  *frameSlot
	cmds  chan func(*controls)
	done  chan struct{}
	noAF  chan struct{} // closed when the driver lacks autofocus
	noAFo sync.Once
}

func openCV(ctx context.Context, p parsedSpec, o Options) (Source, error) {
	vc, err := openCapture(ctx, p, o)
	if err != nil {
		return nil, err
	}
	s := &cvSource{
		p:    p,
		o:    o,
		slot: newSlot(o.LatestOnly || p.live()),
		cmds: make(chan func(*controls), 1),
		done: make(chan struct{}),
		noAF: make(chan struct{}),
	}
	go s.read(vc)
	return s, nil
}

// read is the reader goroutine.
func (s *cvSource) read(vc *gocv.VideoCapture) {
	defer close(s.done)
	defer vc.Close()
	k := newControls(cvDriver{vc}, s.o, s.p.raw)
	flush := 0 // buffers to drop after a low-power pause (devices only)
	if s.p.kind == kindDevice {
		applyDeviceOptions(vc, k)
		flush = int(vc.Get(gocv.VideoCaptureBufferSize))
		if flush < 1 || flush > 8 {
			flush = 1
		}
		if k.lacking[ctlAutoFocus] {
			s.noAFo.Do(func() { close(s.noAF) })
		}
	}
	mat := gocv.NewMat()
	defer mat.Close()
	gray := gocv.NewMat()
	defer gray.Close()
	var (
		seq        uint64
		size       image.Point
		last       time.Time
		refocusEnd time.Time
	)
	for {
		select {
		case cmd := <-s.cmds:
			cmd(k)
			if k.lacking[ctlAutoFocus] {
				s.noAFo.Do(func() { close(s.noAF) })
			} else if s.o.Focus == FocusFixed {
				refocusEnd = s.o.Clock.Now().Add(s.o.RefocusSettle)
			}
		default:
		}
		if !refocusEnd.IsZero() && !s.o.Clock.Now().Before(refocusEnd) {
			k.refocusEnd()
			refocusEnd = time.Time{}
		}
		if !s.slot.pace(s.o.Clock, last) {
			return
		}
		if s.slot.interval.Load() > 0 && flush > 0 {
			// After a low-power pause the driver's buffers hold old frames.
			vc.Grab(flush)
		}
		ok := vc.Read(&mat)
		last = s.o.Clock.Now()
		if !ok || mat.Empty() {
			err := io.EOF
			if s.p.live() {
				err = fmt.Errorf("camera: read %q: stream ended: %w", s.p.raw, ErrReadFailed)
			}
			s.slot.fail(err)
			return
		}
		seq++
		f, err := s.convert(mat, &gray)
		if err != nil {
			s.o.Log.Warn("camera: frame dropped", "source", s.p.raw, "seq", seq, "err", err)
			continue
		}
		if p := f.Rect.Size(); p != size {
			if size != (image.Point{}) {
				s.o.Log.Warn("camera: frame size changed", "source", s.p.raw, "from", size, "to", p)
			}
			size = p
		}
		if !s.slot.put(Frame{Gray: f, At: last, Seq: seq}) {
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
	if err != nil || len(data) < w*h || w < 1 || h < 1 {
		return nil, fmt.Errorf("camera: frame data %dx%d: %v: %w", w, h, err, ErrBadFrame)
	}
	pix := s.slot.buffer(w * h)
	copy(pix, data)
	return &image.Gray{Pix: pix, Stride: w, Rect: image.Rect(0, 0, w, h)}, nil
}

// Next returns the newest frame (live sources) or the next frame (files).
func (s *cvSource) Next(ctx context.Context) (Frame, error) { return s.slot.next(ctx) }

// Refocus asks the camera for one focus sweep. It returns at once; the
// sweep runs on the reader goroutine before its next read.
func (s *cvSource) Refocus() error {
	if s.p.kind != kindDevice {
		return fmt.Errorf("camera: refocus %q: not a camera device: %w", s.p.raw, ErrNoControl)
	}
	select {
	case <-s.noAF:
		return fmt.Errorf("camera: refocus %q: autofocus: %w", s.p.raw, ErrNoControl)
	case <-s.done:
		return ErrClosed
	default:
	}
	select {
	case s.cmds <- func(k *controls) {
		if err := k.refocusStart(); err != nil {
			s.o.Log.Debug("camera: refocus not possible", "source", s.p.raw, "err", err)
		}
	}:
	default: // a refocus is already pending
	}
	return nil
}

// setInterval paces the reader (low-power mode). Only devices are paced:
// V4L2 drops frames while nobody dequeues, and the reader flushes its
// buffers after a pause. A network stream would instead pile up in the
// socket and deliver ever older frames, so its reader keeps full rate and
// only deliveries are spaced (by Live).
func (s *cvSource) setInterval(d time.Duration) {
	if s.p.kind == kindDevice {
		s.slot.setInterval(d)
	}
}

// Close stops the reader and releases the capture. It waits a short while
// for a read in progress; a backend stuck in a read is left to finish on
// its own.
func (s *cvSource) Close() error {
	s.slot.close()
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
