package faults

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/kipass/kipass/queue"
	"github.com/kipass/kipass/token"
)

// simDevice is a device whose clocks the clock scenarios step, in
// process (Go reads the wall clock through the vDSO, so libfaketime
// cannot move it). It models the trust clock: before central has
// answered in this boot the corrected time is the device's wall clock and
// untrusted; after, it runs on the boot clock from central's time and is
// trusted, whatever the wall clock does.
type simDevice struct {
	mu     sync.Mutex
	truth  time.Time     // the true time
	wall   time.Time     // the device's wall clock (RTC, NTP, steps)
	boot   int           // boot number: the boot id
	since  time.Duration // boot clock
	synced bool          // central answered in this boot
	anchor time.Time     // central's time at boot-clock reading anchorAt
	at     time.Duration
	// raw makes Now the wall clock, always trusted: the queue as it was
	// before it took trusted time (the tests' control).
	raw bool
}

// Now is the corrected time and whether it is trusted (queue.Time).
func (d *simDevice) Now() (time.Time, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.raw {
		return d.wall, true
	}
	if d.synced {
		return d.anchor.Add(d.since - d.at), true
	}
	return d.wall, false
}

// Boot is the boot id and boot clock (queue.Time).
func (d *simDevice) Boot() (string, time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return fmt.Sprintf("sim-boot-%d", d.boot), d.since
}

func (d *simDevice) pass(x time.Duration) {
	d.mu.Lock()
	d.truth, d.wall, d.since = d.truth.Add(x), d.wall.Add(x), d.since+x
	d.mu.Unlock()
}

func (d *simDevice) stepWall(x time.Duration) {
	d.mu.Lock()
	d.wall = d.wall.Add(x)
	d.mu.Unlock()
}

func (d *simDevice) setWall(t time.Time) {
	d.mu.Lock()
	d.wall = t
	d.mu.Unlock()
}

// sync is an answer from central: its time (the truth, give or take a
// second of round trip) anchors the corrected clock.
func (d *simDevice) sync() {
	d.mu.Lock()
	d.synced, d.anchor, d.at = true, d.truth.Add(-time.Second), d.since
	d.mu.Unlock()
}

// reboot powers the device off for down and starts it again: a new boot
// id, the boot clock from zero, no answer from central yet.
func (d *simDevice) reboot(down time.Duration) {
	d.mu.Lock()
	d.truth, d.wall = d.truth.Add(down), d.wall.Add(down)
	d.boot++
	d.since, d.synced = 3*time.Second, false
	d.mu.Unlock()
}

func (d *simDevice) now() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.truth
}

// clockStep is one step of a clock scenario's script.
type clockStep struct {
	// scans are recorded over span, evenly, before the action.
	scans int
	span  time.Duration
	// action changes the clocks (nil: none).
	action func(d *simDevice, reopen func())
}

// clockRun plays a script on a real queue file with the simulated device
// clock, central unreachable (nothing is delivered), purging every hour of
// true time as the agent does, and checks after every hour: a scan
// younger than 28 true days that is gone is lost; one older than 28 days
// + 1 hour still kept while the time is trusted is overdue.
func (sc Scale) clockRun(ctx context.Context, is *Issuer, name string, script []clockStep) Result {
	return sc.clockRunOn(ctx, is, name, script, false)
}

// clockRunOn is clockRun, with raw set: on the raw device clock.
func (sc Scale) clockRunOn(ctx context.Context, is *Issuer, name string, script []clockStep, raw bool) Result {
	res := Result{Scenario: name}
	start := time.Now()
	dir, err := os.MkdirTemp(sc.Dir, name+"-")
	if err != nil {
		res.Err = err
		return res
	}
	defer os.RemoveAll(dir)
	dev := &simDevice{truth: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), since: time.Minute}
	dev.wall, dev.raw = dev.truth, raw
	dev.sync()
	path := filepath.Join(dir, "queue.db")
	opts := queue.Options{Time: dev, Log: discard, IssuedAt: func(text string) (time.Time, bool) {
		c, err := token.Parse(text)
		return c.IssuedAt, err == nil
	}}
	q, err := queue.Open(path, opts)
	if err != nil {
		res.Err = err
		return res
	}
	defer func() { q.Close() }()
	reopen := func() {
		q.Close()
		if q, err = queue.Open(path, opts); err != nil {
			res.Err = err
		}
	}
	taken := map[string]time.Time{} // id -> true time of the scan
	gone := map[string]bool{}
	overdue := map[string]bool{}
	const limit = queue.DefaultRetention + time.Hour
	check := func() {
		recs, err := q.Oldest(1 << 20)
		if err != nil {
			res.Err = err
			return
		}
		kept := make(map[string]bool, len(recs))
		for _, r := range recs {
			kept[r.ID] = true
		}
		_, trusted := dev.Now()
		truth := dev.now()
		for id, t := range taken {
			age := truth.Sub(t)
			switch {
			case !kept[id] && age < queue.DefaultRetention && !gone[id]:
				gone[id] = true
				res.Lost++
			case kept[id] && trusted && age > limit && !overdue[id]:
				overdue[id] = true
			}
		}
	}
	hourly := func(x time.Duration) {
		for x > 0 && res.Err == nil {
			step := min(x, time.Hour)
			dev.pass(step)
			x -= step
			if _, err := q.Purge(); err != nil {
				res.Err = err
			}
			check()
		}
	}
	for _, st := range script {
		if ctx.Err() != nil || res.Err != nil {
			break
		}
		for i := 0; i < st.scans && res.Err == nil; i++ {
			r, err := is.Record("F-CLOCK", "D-CLOCK", dev.now())
			if err != nil {
				res.Err = err
				break
			}
			r.CorrectedTime, _ = dev.Now() // as the agent stamps it
			r.DeviceTime = dev.wall
			if _, err := q.Enqueue(r); err != nil {
				res.Err = err
				break
			}
			taken[r.ID] = dev.now()
			res.Confirmed++
			hourly(st.span / time.Duration(st.scans))
		}
		if st.scans == 0 {
			hourly(st.span)
		}
		if st.action != nil {
			st.action(dev, reopen)
			// The agent's queue re-bases and purges as soon as the time is
			// trusted (Run checks every minute).
			dev.pass(time.Minute)
			if _, err := q.Purge(); err != nil {
				res.Err = err
			}
			check()
		}
	}
	// Then 30 days of true time: everything must go at its own 28 days.
	hourly(30 * 24 * time.Hour)
	res.Elapsed = time.Since(start)
	st, _ := q.Stats()
	res.detail("overdue=%d left=%d", len(overdue), st.Depth)
	if len(overdue) > 0 && res.Err == nil {
		res.Err = fmt.Errorf("%d scans kept past 28 days + 1 h of trusted time", len(overdue))
	}
	return res
}

// ClockScenarios step the device clock forward and back by small and
// large amounts, while trusted and across restarts, and reset the RTC to
// 2000 before an NTP step; every scan must stay until its true 28 days
// and go within the hour after (lost=0, overdue=0).
func (sc Scale) ClockScenarios(ctx context.Context, is *Issuer) []Result {
	n := sc.pick(6, 30)
	day := 24 * time.Hour
	return []Result{
		sc.clockRun(ctx, is, "clock-step-forward", []clockStep{
			{scans: n, span: 2 * day, action: func(d *simDevice, _ func()) { d.stepWall(90 * time.Minute) }},
			{scans: n, span: 3 * day, action: func(d *simDevice, _ func()) { d.stepWall(400 * day) }},
			{scans: n, span: 2 * day, action: func(d *simDevice, reopen func()) { d.reboot(10 * time.Minute); reopen() }},
			// Restarted with the wall clock 400 days ahead, not yet trusted.
			{scans: n, span: 2 * time.Hour, action: func(d *simDevice, _ func()) { d.sync() }},
			{scans: n, span: 3 * day, action: func(d *simDevice, _ func()) { d.stepWall(-400*day - 90*time.Minute) }},
			{scans: n, span: 5 * day},
		}),
		sc.clockRun(ctx, is, "clock-step-back", []clockStep{
			{scans: n, span: 2 * day, action: func(d *simDevice, _ func()) { d.stepWall(-50 * time.Minute) }},
			{scans: n, span: 3 * day, action: func(d *simDevice, _ func()) { d.stepWall(-3 * 365 * day) }},
			{scans: n, span: 2 * day, action: func(d *simDevice, reopen func()) { d.reboot(time.Hour); reopen() }},
			// Restarted three years behind, not yet trusted.
			{scans: n, span: 5 * time.Hour, action: func(d *simDevice, _ func()) { d.sync() }},
			{scans: n, span: 3 * day, action: func(d *simDevice, _ func()) { d.stepWall(3*365*day + 50*time.Minute) }},
			{scans: n, span: 5 * day},
		}),
		sc.clockRun(ctx, is, "rtc-reset", []clockStep{
			{scans: n, span: 3 * day, action: func(d *simDevice, reopen func()) {
				d.reboot(6 * time.Hour) // power cut, flat RTC battery
				d.setWall(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))
				reopen()
			}},
			{scans: n, span: 4 * time.Hour, action: func(d *simDevice, reopen func()) {
				d.reboot(20 * time.Minute) // and again, before any network
				d.setWall(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))
				reopen()
			}},
			{scans: n, span: 3 * time.Hour, action: func(d *simDevice, _ func()) { d.setWall(d.now()) }}, // NTP step
			{scans: n, span: 30 * time.Minute, action: func(d *simDevice, _ func()) { d.sync() }},
			{scans: n, span: 5 * day},
		}),
	}
}
