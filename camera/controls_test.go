package camera

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

// faultyDriver stands in for a V4L2 driver that lacks some controls: it
// answers -1 for those, as OpenCV's V4L backend does, and clamps focus.
type faultyDriver struct {
	lacks  map[control]bool
	values map[control]float64
	sets   []control
}

func (d *faultyDriver) set(c control, v float64) {
	d.sets = append(d.sets, c)
	if d.lacks[c] {
		return
	}
	if c == ctlFocus && v > 255 {
		v = 255
	}
	d.values[c] = v
}

func (d *faultyDriver) get(c control) float64 {
	if d.lacks[c] {
		return -1
	}
	return d.values[c]
}

func TestControlsLogMissingControlOnceAcrossReopens(t *testing.T) {
	var logs bytes.Buffer
	o := Options{
		Focus: FocusFixed, FocusDistance: 250, Exposure: ExposureGlare,
		Log: slog.New(slog.NewTextHandler(&logs, nil)),
	}.withDefaults()
	for reopen := 0; reopen < 3; reopen++ {
		d := &faultyDriver{lacks: map[control]bool{ctlAutoFocus: true, ctlAutoExposure: true}, values: map[control]float64{}}
		k := newControls(d, o, "/dev/video0")
		k.applyFocusExposure()
		if d.values[ctlFocus] != 250 {
			t.Errorf("focus %v, want 250", d.values[ctlFocus])
		}
		if _, set := d.values[ctlExposure]; set {
			t.Error("manual exposure set although auto exposure cannot be turned off")
		}
		if err := k.refocusStart(); !errors.Is(err, ErrNoControl) {
			t.Errorf("refocus: %v, want ErrNoControl", err)
		}
	}
	out := logs.String()
	for _, c := range []string{"control=autofocus", "control=auto_exposure"} {
		if n := strings.Count(out, c); n != 1 {
			t.Errorf("%s logged %d times, want once:\n%s", c, n, out)
		}
	}
}

func TestControlsFixedFocusRefocusAndClamp(t *testing.T) {
	var logs bytes.Buffer
	o := Options{Focus: FocusFixed, FocusDistance: 300, Exposure: ExposureGlare, ExposureValue: 30,
		Log: slog.New(slog.NewTextHandler(&logs, nil))}.withDefaults()
	d := &faultyDriver{values: map[control]float64{}}
	k := newControls(d, o, "cam")
	k.applyFocusExposure()
	if d.values[ctlAutoFocus] != 0 || d.values[ctlFocus] != 255 {
		t.Errorf("autofocus %v focus %v, want off at 255 (clamped)", d.values[ctlAutoFocus], d.values[ctlFocus])
	}
	if d.values[ctlAutoExposure] != v4l2ExposureManual || d.values[ctlExposure] != 30 {
		t.Errorf("exposure %v/%v, want manual 30", d.values[ctlAutoExposure], d.values[ctlExposure])
	}
	if !strings.Contains(logs.String(), "driver adjusted a setting") {
		t.Errorf("clamp not logged:\n%s", logs.String())
	}
	if err := k.refocusStart(); err != nil {
		t.Fatal(err)
	}
	if d.values[ctlAutoFocus] != 1 {
		t.Error("refocus did not turn autofocus on")
	}
	k.refocusEnd()
	if d.values[ctlAutoFocus] != 0 {
		t.Error("fixed focus: autofocus still on after the sweep")
	}
}
