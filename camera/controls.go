package camera

import (
	"fmt"
	"math"
	"sync"
)

// FocusMode selects how a camera focuses.
type FocusMode int

const (
	// FocusDriver leaves focus as the driver has it.
	FocusDriver FocusMode = iota
	// FocusAuto turns continuous autofocus on.
	FocusAuto
	// FocusFixed turns autofocus off and sets Options.FocusDistance: the
	// setting for stands at 20–30 cm, which the ministry advises when
	// autofocus hunts.
	FocusFixed
)

// ExposureMode is a hint for how a camera exposes.
type ExposureMode int

const (
	// ExposureDriver leaves exposure as the driver has it.
	ExposureDriver ExposureMode = iota
	// ExposureAuto turns auto exposure on.
	ExposureAuto
	// ExposureGlare turns auto exposure off and sets a short exposure
	// (Options.ExposureValue, default 50), so a bright phone screen under
	// glare is not washed out.
	ExposureGlare
)

// Focuser is implemented by sources that can refocus on demand. The
// decoder's retry logic calls Refocus when it sees a code-like blur; rate
// limiting is the caller's job.
type Focuser interface {
	// Refocus triggers one focus sweep. It returns an error wrapping
	// ErrNoControl when the driver has no autofocus control, and ErrClosed
	// after Close.
	Refocus() error
}

// control is a device property the camera package sets.
type control int

const (
	ctlAutoFocus control = iota
	ctlFocus
	ctlAutoExposure
	ctlExposure
	ctlWidth
	ctlHeight
	ctlFPS
)

var controlNames = [...]string{"autofocus", "focus", "auto_exposure", "exposure", "width", "height", "fps"}

func (c control) String() string { return controlNames[c] }

// V4L2 values of V4L2_CID_EXPOSURE_AUTO, which OpenCV's V4L backend passes
// through for CAP_PROP_AUTO_EXPOSURE.
const (
	v4l2ExposureManual   = 1
	v4l2ExposureAperture = 3
)

// propDriver sets and reads device properties. OpenCV's Set reports
// nothing, so support is judged by reading back: drivers answer -1 (or
// ignore the value) for a control they lack.
type propDriver interface {
	set(c control, v float64)
	get(c control) float64
}

// onceSet remembers which warnings were logged, across reopens of a source.
type onceSet struct {
	mu   sync.Mutex
	seen map[string]bool
}

// first reports whether key is new, and records it.
func (o *onceSet) first(key string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.seen == nil {
		o.seen = map[string]bool{}
	}
	if o.seen[key] {
		return false
	}
	o.seen[key] = true
	return true
}

// controls applies Options to a device and remembers which controls the
// driver lacks.
type controls struct {
	d       propDriver
	o       Options
	src     string
	lacking map[control]bool
}

func newControls(d propDriver, o Options, src string) *controls {
	if o.warnOnce == nil {
		o.warnOnce = &onceSet{}
	}
	return &controls{d: d, o: o, src: src, lacking: map[control]bool{}}
}

// setChecked sets c to v and reads it back. A driver lacking the control is
// logged once per source (across reopens); a driver that clamps the value
// is logged once too.
func (k *controls) setChecked(c control, v float64) bool {
	k.d.set(c, v)
	got := k.d.get(c)
	if got == -1 || (got == 0 && v != 0 && (c == ctlAutoFocus || c == ctlAutoExposure)) {
		k.lacking[c] = true
		if k.o.warnOnce.first(k.src + "|lack|" + c.String()) {
			k.o.Log.Warn("camera: driver lacks control", "source", k.src, "control", c.String())
		}
		return false
	}
	if math.Abs(got-v) > 0.5 {
		if c == ctlAutoFocus || c == ctlAutoExposure {
			k.lacking[c] = true
			if k.o.warnOnce.first(k.src + "|lack|" + c.String()) {
				k.o.Log.Warn("camera: driver lacks control", "source", k.src, "control", c.String(),
					"detail", fmt.Sprintf("asked %v, reads %v", v, got))
			}
			return false
		}
		if k.o.warnOnce.first(k.src + "|clamp|" + c.String()) {
			k.o.Log.Info("camera: driver adjusted a setting", "source", k.src, "control", c.String(),
				"asked", v, "got", got)
		}
	}
	return true
}

// applyFormat asks for resolution and frame rate (FOURCC is set by the
// backend-specific code before this, as it must come first).
func (k *controls) applyFormat() {
	if k.o.Width > 0 {
		k.setChecked(ctlWidth, float64(k.o.Width))
	}
	if k.o.Height > 0 {
		k.setChecked(ctlHeight, float64(k.o.Height))
	}
	if k.o.FPS > 0 {
		k.setChecked(ctlFPS, k.o.FPS)
	}
}

// applyFocusExposure applies the focus and exposure hints.
func (k *controls) applyFocusExposure() {
	switch k.o.Focus {
	case FocusAuto:
		k.setChecked(ctlAutoFocus, 1)
	case FocusFixed:
		k.setChecked(ctlAutoFocus, 0)
		k.setChecked(ctlFocus, k.o.FocusDistance)
	}
	switch k.o.Exposure {
	case ExposureAuto:
		k.setChecked(ctlAutoExposure, v4l2ExposureAperture)
	case ExposureGlare:
		v := k.o.ExposureValue
		if v <= 0 {
			v = 50
		}
		if k.setChecked(ctlAutoExposure, v4l2ExposureManual) {
			k.setChecked(ctlExposure, v)
		}
	}
}

// refocusStart begins a one-shot refocus: autofocus off then on, which
// makes UVC cameras run a fresh sweep. It reports whether the sweep began;
// with FocusFixed the caller turns autofocus off again after
// Options.RefocusSettle, keeping the distance the sweep found.
func (k *controls) refocusStart() error {
	if k.lacking[ctlAutoFocus] {
		return fmt.Errorf("camera: refocus %s: autofocus: %w", k.src, ErrNoControl)
	}
	k.d.set(ctlAutoFocus, 0)
	if !k.setChecked(ctlAutoFocus, 1) {
		return fmt.Errorf("camera: refocus %s: autofocus: %w", k.src, ErrNoControl)
	}
	return nil
}

// refocusEnd ends a refocus started under FocusFixed.
func (k *controls) refocusEnd() {
	if k.o.Focus == FocusFixed {
		k.d.set(ctlAutoFocus, 0)
	}
}
