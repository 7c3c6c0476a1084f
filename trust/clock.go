package trust

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/kipass/kipass/atomicfile"
	"github.com/kipass/kipass/clock"
)

// Basis says what the corrected time rests on.
type Basis string

// The bases of corrected time, from best to worst.
const (
	// BasisCentral: an offset learned from central since the agent started,
	// carried forward on the monotonic clock. Trusted.
	BasisCentral Basis = "central"
	// BasisPersisted: the offset learned before a restart, read from the
	// state file, with a device clock that did not go backwards. Trusted.
	BasisPersisted Basis = "persisted"
	// BasisLowerBound: the device clock went backwards across a restart
	// (a kiosk that lost its real-time clock in a power cut). The corrected
	// time is the last time learned from central plus the time since start:
	// a lower bound of the true time. Not trusted; the alarm is raised.
	BasisLowerBound Basis = "lower_bound"
	// BasisDevice: nothing learned yet; the corrected time is the device
	// clock. Not trusted.
	BasisDevice Basis = "device"
)

// Trusted reports whether verdicts may rely on the corrected time.
func (b Basis) Trusted() bool { return b == BasisCentral || b == BasisPersisted }

// ClockOptions configure a Clock.
type ClockOptions struct {
	// Path is the state file that keeps the learned offset across restarts
	// (written atomically); not persisted when empty.
	Path string
	// Tolerance is how far the device clock may be from central's before
	// the "check the clock" alarm is raised; 5 s when zero.
	Tolerance time.Duration
	// MaxRTT: answers that took longer are not used to learn the offset
	// (their midpoint is too uncertain); 2 s when zero.
	MaxRTT time.Duration
	// Device is the device clock; clock.Real when nil. Real readings carry
	// Go's monotonic clock, which the corrected time runs on.
	Device clock.Clock
	// Log receives the alarm and learning events; slog.Default when nil.
	Log *slog.Logger
}

// ClockStatus is a snapshot of the clock's state, for the status page.
type ClockStatus struct {
	// Basis is what the corrected time rests on.
	Basis Basis `json:"basis"`
	// Offset is central's clock minus the device clock (wall), now.
	Offset time.Duration `json:"offset"`
	// Uncertainty is half the round trip of the sample the offset came from.
	Uncertainty time.Duration `json:"uncertainty"`
	// LastSync is the device time of the last sample used (zero: none).
	LastSync time.Time `json:"last_sync"`
	// Samples counts the answers the offset was learned from since start.
	Samples int64 `json:"samples"`
	// Alarm is the "check the clock" alarm: the device clock is off by more
	// than the tolerance, or it went backwards across a restart.
	Alarm bool `json:"alarm"`
	// AlarmReason is "" or a log-safe cause: "device_clock_off", "device_clock_reset".
	AlarmReason string `json:"alarm_reason,omitempty"`
}

// Clock keeps the offset between the device clock and central's, learned
// from every answer that carries central's time, and gives the corrected
// time. After a sample, corrected time runs on the monotonic clock, so a
// device clock stepped by hand, by NTP or by a flat RTC battery does not
// move it. It is safe for concurrent use.
type Clock struct {
	o ClockOptions

	mu sync.Mutex
	// The anchor: central's time at a device reading. Corrected time at
	// device reading d is server + (d − device), monotonic when both
	// readings are from this process.
	device, server time.Time
	unc            time.Duration
	basis          Basis
	lastSync       time.Time
	samples        int64
	persisted      time.Duration // offset last written to the state file
	persistedAt    time.Time
	alarm          string
}

// clockState is the state file.
type clockState struct {
	// DeviceTime and ServerTime are one sample: central's clock read at
	// the device's wall time DeviceTime.
	DeviceTime  time.Time     `json:"device_time"`
	ServerTime  time.Time     `json:"server_time"`
	Uncertainty time.Duration `json:"uncertainty_ns"`
}

// OpenClock returns a clock that starts from the state file when there is
// one. A missing file starts unsynced (BasisDevice); an unreadable one is
// logged and ignored. A device clock that is now behind the last learned
// central time (beyond the tolerance) means it was reset: the corrected
// time becomes a lower bound and the alarm is raised.
func OpenClock(o ClockOptions) *Clock {
	if o.Tolerance <= 0 {
		o.Tolerance = 5 * time.Second
	}
	if o.MaxRTT <= 0 {
		o.MaxRTT = 2 * time.Second
	}
	if o.Device == nil {
		o.Device = clock.Real{}
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	c := &Clock{o: o, basis: BasisDevice}
	now := o.Device.Now()
	c.device, c.server = now, now.Round(0)
	st, err := loadClockState(o.Path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		o.Log.Info("no learned clock offset yet; using the device clock until central answers")
	case err != nil:
		o.Log.Warn("clock state ignored", "err", err)
	default:
		offset := st.ServerTime.Sub(st.DeviceTime)
		c.persisted, c.persistedAt, c.unc, c.lastSync = offset, st.DeviceTime, st.Uncertainty, st.DeviceTime
		if now.Round(0).Add(offset).Before(st.ServerTime.Add(-o.Tolerance)) {
			// The device clock is behind where it was at the last sample:
			// it was reset. Central's time then, plus the time since
			// start, is all we know.
			c.basis, c.server = BasisLowerBound, st.ServerTime
		} else {
			c.basis, c.server = BasisPersisted, now.Round(0).Add(offset)
		}
	}
	c.checkAlarm(now)
	return c
}

func loadClockState(path string) (clockState, error) {
	var st clockState
	if path == "" {
		return st, os.ErrNotExist
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("%w %s: %w", ErrClockState, path, err)
	}
	if st.DeviceTime.IsZero() || st.ServerTime.IsZero() {
		return st, fmt.Errorf("%w %s: missing times", ErrClockState, path)
	}
	return st, nil
}

// Now returns the device time and the corrected time.
func (c *Clock) Now() (device, corrected time.Time) {
	d := c.o.Device.Now()
	return d, c.Correct(d)
}

// Correct returns the corrected time at device reading d (taken from the
// same device clock).
func (c *Clock) Correct(d time.Time) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.correct(d)
}

func (c *Clock) correct(d time.Time) time.Time {
	if c.basis == BasisDevice {
		return d.Round(0)
	}
	return c.server.Add(d.Sub(c.device))
}

// Learn takes one sample of central's clock: server is central's time in an
// answer to a request sent at device reading sent and received at device
// reading received. It reports whether the sample was used: answers slower
// than MaxRTT are not, nor is a sample less precise than a recent one.
func (c *Clock) Learn(sent, received, server time.Time) bool {
	rtt := received.Sub(sent)
	if server.IsZero() || rtt < 0 || rtt > c.o.MaxRTT {
		return false
	}
	unc := rtt / 2
	mid := sent.Add(unc)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.basis == BasisCentral && unc > c.unc && mid.Sub(c.device) < 10*time.Minute {
		return false
	}
	first := c.basis != BasisCentral
	c.device, c.server, c.unc, c.basis = mid, server.Round(0), unc, BasisCentral
	c.lastSync = mid.Round(0)
	c.samples++
	offset := server.Sub(mid.Round(0))
	if first {
		c.o.Log.Info("clock offset learned from central", "offset", offset.Round(time.Millisecond), "uncertainty", unc.Round(time.Millisecond))
	}
	if d := offset - c.persisted; first || d > 100*time.Millisecond || d < -100*time.Millisecond || mid.Sub(c.persistedAt) > 10*time.Minute {
		if err := c.persist(mid, server, unc); err != nil {
			c.o.Log.Warn("clock offset not persisted", "err", err)
		} else {
			c.persisted, c.persistedAt = offset, mid.Round(0)
		}
	}
	c.checkAlarm(received)
	return true
}

// persist writes the sample to the state file atomically (temp file, fsync,
// rename).
func (c *Clock) persist(device, server time.Time, unc time.Duration) error {
	if c.o.Path == "" {
		return nil
	}
	b, err := json.Marshal(clockState{DeviceTime: device.Round(0), ServerTime: server.Round(0), Uncertainty: unc})
	if err != nil {
		return err
	}
	return atomicfile.Write(c.o.Path, b, 0o600)
}

// checkAlarm raises or clears the alarm at device reading d; c.mu is held.
func (c *Clock) checkAlarm(d time.Time) {
	reason := ""
	switch {
	case c.basis == BasisLowerBound:
		reason = "device_clock_reset"
	case c.basis.Trusted():
		if off := c.correct(d).Sub(d.Round(0)); off > c.o.Tolerance || off < -c.o.Tolerance {
			reason = "device_clock_off"
		}
	}
	if reason == c.alarm {
		return
	}
	if reason != "" {
		c.o.Log.Warn("check the clock: the device clock is wrong; verdicts use central's time",
			"alarm", reason, "offset", c.correct(d).Sub(d.Round(0)).Round(time.Millisecond), "basis", string(c.basis))
	} else {
		c.o.Log.Info("clock alarm cleared", "was", c.alarm)
	}
	c.alarm = reason
}

// Status returns a snapshot of the clock, re-checking the alarm against
// the device clock now (it catches a device clock stepped since the last
// sample).
func (c *Clock) Status() ClockStatus {
	d := c.o.Device.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checkAlarm(d)
	return ClockStatus{
		Basis: c.basis, Offset: c.correct(d).Sub(d.Round(0)), Uncertainty: c.unc,
		LastSync: c.lastSync, Samples: c.samples, Alarm: c.alarm != "", AlarmReason: c.alarm,
	}
}

// Run asks central's clock through client (GET /v1/time) until ctx ends:
// every 30 s until a sample is learned, then every `every` (5 min when
// zero); batch, verify and heartbeat answers teach it in between. The
// client for central's OnServerTime must lead to Learn. Failures never end
// Run.
func (c *Clock) Run(ctx context.Context, client *Client, every time.Duration) error {
	if every <= 0 {
		every = 5 * time.Minute
	}
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := client.Time(cctx)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		wait := every
		if c.Status().Basis != BasisCentral {
			wait = min(every, 30*time.Second)
		}
		if err != nil {
			c.o.Log.Debug("central's clock not reached", "err", err, "retry_in", wait)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-c.o.Device.After(wait):
		}
	}
}
