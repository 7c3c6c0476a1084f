package trust

import (
	"testing"
	"time"
)

// The corrected clock reads central's time once an offset is learned, and
// waits on the device clock.
func TestCorrectedClock(t *testing.T) {
	dev := fakeDevice(10 * time.Minute) // the device runs 10 minutes ahead
	log, _ := newLog()
	c := OpenClock(ClockOptions{Device: dev, Log: log})
	cc := c.Corrected()
	if got := cc.Now(); !got.Equal(dev.Now()) {
		t.Fatalf("before any sample: %v, want the device time %v", got, dev.Now())
	}
	if !sample(c, dev, 10*time.Minute, 20*time.Millisecond) {
		t.Fatal("sample not learned")
	}
	if d := cc.Now().Sub(dev.Now()); d > -10*time.Minute+time.Second || d < -10*time.Minute-time.Second {
		t.Fatalf("corrected − device = %v, want about −10 min", d)
	}
	ch := cc.After(time.Second)
	select {
	case <-ch:
		t.Fatal("After fired before the device clock moved")
	default:
	}
	dev.Advance(time.Second)
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("After did not fire when the device clock moved")
	}
}
