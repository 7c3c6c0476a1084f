package trust

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kipass/kipass/clock"
)

// central's true time in the tests.
var t0 = time.Date(2026, 11, 22, 1, 30, 0, 0, time.UTC)

type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newLog() (*slog.Logger, *logBuf) {
	b := &logBuf{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// sample teaches c central's time through an answer that took rtt, on a
// device clock that runs off ahead of central's.
func sample(c *Clock, dev *clock.Fake, off, rtt time.Duration) bool {
	sent := dev.Now()
	dev.Advance(rtt)
	return c.Learn(sent, dev.Now(), sent.Add(rtt/2).Add(-off))
}

// fakeDevice is a device clock that reads central's time t0 plus off.
func fakeDevice(off time.Duration) *clock.Fake { return clock.NewFake(t0.Add(off)) }

func TestClockCases(t *testing.T) {
	const tol = 5 * time.Second
	cases := []struct {
		name      string
		off       time.Duration // device clock minus central's
		learn     bool
		basis     Basis
		alarm     string
		corrected time.Duration // expected corrected − central's true time
	}{
		{"never learned, device right", 0, false, BasisDevice, "", 0},
		{"never learned, device 10 min ahead", 10 * time.Minute, false, BasisDevice, "", 10 * time.Minute},
		{"learned, device right", 0, true, BasisCentral, "", 0},
		{"learned, device 3 s behind (within tolerance)", -3 * time.Second, true, BasisCentral, "", 0},
		{"learned, device off by exactly the tolerance", tol, true, BasisCentral, "", 0},
		{"learned, device off by tolerance + 1 ms", tol + time.Millisecond, true, BasisCentral, "device_clock_off", 0},
		{"learned, device 10 min ahead", 10 * time.Minute, true, BasisCentral, "device_clock_off", 0},
		{"learned, device 26 years behind (RTC lost)", -26 * 365 * 24 * time.Hour, true, BasisCentral, "device_clock_off", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dev := fakeDevice(c.off)
			log, _ := newLog()
			clk := OpenClock(ClockOptions{Tolerance: tol, Device: dev, Log: log})
			if c.learn && !sample(clk, dev, c.off, 0) {
				t.Fatal("sample not used")
			}
			dev.Advance(3 * time.Second)
			d, corr := clk.Now()
			truth := d.Add(-c.off)
			if got := corr.Sub(truth); got != c.corrected {
				t.Fatalf("corrected − true = %v, want %v", got, c.corrected)
			}
			st := clk.Status()
			if st.Basis != c.basis || st.AlarmReason != c.alarm || st.Alarm != (c.alarm != "") {
				t.Fatalf("status = %+v, want basis %s alarm %q", st, c.basis, c.alarm)
			}
			if c.learn && st.Offset != -c.off {
				t.Fatalf("offset = %v, want %v", st.Offset, -c.off)
			}
		})
	}
}

func TestClockSamples(t *testing.T) {
	dev := fakeDevice(time.Minute)
	log, _ := newLog()
	clk := OpenClock(ClockOptions{Device: dev, Log: log, MaxRTT: 2 * time.Second})
	if sample(clk, dev, time.Minute, 2*time.Second+time.Millisecond) {
		t.Fatal("an answer slower than MaxRTT was used")
	}
	if clk.Status().Basis != BasisDevice {
		t.Fatal("slow sample changed the basis")
	}
	if !sample(clk, dev, time.Minute, 400*time.Millisecond) {
		t.Fatal("sample not used")
	}
	if sample(clk, dev, time.Minute, time.Second) {
		t.Fatal("a less precise sample replaced a recent precise one")
	}
	dev.Advance(11 * time.Minute)
	if !sample(clk, dev, time.Minute, time.Second) {
		t.Fatal("a less precise sample was refused although the last one is old")
	}
	st := clk.Status()
	if st.Samples != 2 || st.Uncertainty != 500*time.Millisecond || st.Offset != -time.Minute {
		t.Fatalf("status = %+v", st)
	}
	if clk.Learn(dev.Now(), dev.Now().Add(-time.Millisecond), t0) {
		t.Fatal("negative round trip used")
	}
	if clk.Learn(dev.Now(), dev.Now(), time.Time{}) {
		t.Fatal("zero server time used")
	}
}

func TestClockPersistedAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "clock.json")
	dev := fakeDevice(10 * time.Minute)
	log, logs := newLog()
	clk := OpenClock(ClockOptions{Path: path, Device: dev, Log: log})
	sample(clk, dev, 10*time.Minute, 200*time.Millisecond)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("offset not persisted: %v", err)
	}

	// A restart an hour later, the device clock still 10 min ahead.
	dev.Advance(time.Hour)
	clk2 := OpenClock(ClockOptions{Path: path, Device: dev, Log: log})
	st := clk2.Status()
	if st.Basis != BasisPersisted || !st.Alarm || st.Offset != -10*time.Minute {
		t.Fatalf("after restart: %+v", st)
	}
	if _, corr := clk2.Now(); !corr.Equal(dev.Now().Add(-10 * time.Minute)) {
		t.Fatalf("corrected %v", corr)
	}
	if !strings.Contains(logs.String(), "check the clock") {
		t.Fatalf("no alarm in the log:\n%s", logs)
	}

	// A power cut resets the RTC to 2000-01-01: the device clock is behind
	// the last time learned from central. The corrected time is that time
	// plus the time since start, a lower bound, and the alarm is raised.
	reset := clock.NewFake(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))
	clk3 := OpenClock(ClockOptions{Path: path, Device: reset, Log: log})
	reset.Advance(30 * time.Second)
	st = clk3.Status()
	if st.Basis != BasisLowerBound || st.AlarmReason != "device_clock_reset" {
		t.Fatalf("after RTC reset: %+v", st)
	}
	lastLearned := t0.Add(100 * time.Millisecond) // central's time at the sample's midpoint
	if _, corr := clk3.Now(); !corr.Equal(lastLearned.Add(30 * time.Second)) {
		t.Fatalf("lower bound = %v, want %v", corr, lastLearned.Add(30*time.Second))
	}
	// Central answers again: the offset is learned and the alarm stays on,
	// as the device clock is still 26 years off.
	sent := reset.Now()
	clk3.Learn(sent, sent, t0.Add(2*time.Hour))
	if st := clk3.Status(); st.Basis != BasisCentral || st.AlarmReason != "device_clock_off" {
		t.Fatalf("after a sample: %+v", st)
	}
}

func TestClockStateFileBad(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"garbage": "not json", "empty object": "{}", "truncated": `{"device_time":"2026-11-22T01:30:00Z"`,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
			os.WriteFile(path, []byte(content), 0o600)
			log, logs := newLog()
			clk := OpenClock(ClockOptions{Path: path, Device: fakeDevice(0), Log: log})
			if st := clk.Status(); st.Basis != BasisDevice {
				t.Fatalf("status = %+v", st)
			}
			if !strings.Contains(logs.String(), "bad clock state file") {
				t.Fatalf("no warning:\n%s", logs)
			}
		})
	}
}

// TestClockRealMonotonic learns from real-clock readings: corrected time then
// advances with the monotonic clock.
func TestClockRealMonotonic(t *testing.T) {
	log, _ := newLog()
	clk := OpenClock(ClockOptions{Log: log})
	sent := time.Now()
	received := time.Now()
	clk.Learn(sent, received, sent.Add(-time.Hour))
	time.Sleep(20 * time.Millisecond)
	d, corr := clk.Now()
	if diff := corr.Sub(d.Add(-time.Hour)); diff < -time.Second || diff > time.Second {
		t.Fatalf("corrected time off by %v", diff)
	}
	if !clk.Status().Alarm {
		t.Fatal("an hour off raised no alarm")
	}
}
