package agent

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/kipass/kipass/camera"
	"github.com/kipass/kipass/clock"
	"github.com/kipass/kipass/decode"
	"github.com/kipass/kipass/logging"
	"github.com/kipass/kipass/queue"
	"github.com/kipass/kipass/status"
	"github.com/kipass/kipass/token"
	"github.com/kipass/kipass/uplink"
)

// The health sources below are what the status page reads from the parts
// that know best: the camera, the trust clock and the queue. Facts the agent
// sees itself (the frames it reads, the queue's Stats) fill in the rest.

// CameraHealth reports the camera's own view of its health.
type CameraHealth interface {
	// CameraHealth returns a short state word ("ok", "blurred", "dark", …)
	// and a problem description, empty when the camera is fine.
	CameraHealth() (state, problem string)
}

// ClockHealth reports the device clock against central.
type ClockHealth interface {
	// ClockHealth returns central's time minus the device's, whether that
	// offset is known yet, and a problem description, empty when fine.
	ClockHealth() (offset time.Duration, known bool, problem string)
}

// StorageHealth reports a recording risk the queue sees (disk almost full,
// fsync errors).
type StorageHealth interface {
	// StorageHealth returns a problem description, empty when fine.
	StorageHealth() (problem string)
}

// Watch lists the optional health sources. Nil fields are derived.
type Watch struct {
	// Camera is the camera's own health; when it is not ok it replaces the state
	// derived from the frame stream.
	Camera CameraHealth
	// Clock provides the clock offset and alarm; unknown while nil.
	Clock ClockHealth
	// Storage adds the queue's own alarms to the derived ones.
	Storage StorageHealth
	// Counts replaces the agent's in-memory hourly counter, e.g. with the
	// queue's durable hourly-counter bucket.
	Counts status.Counter
}

// Thresholds of the derived health.
const (
	// NoFramesAfter without a frame makes the camera a problem.
	NoFramesAfter = 10 * time.Second
	// StoreFailureShown keeps a failed recording on the state line.
	StoreFailureShown = 10 * time.Minute
	// QueueAlmostFull is the share of queue_max that makes storage a problem.
	QueueAlmostFull = 0.95
)

// observer gathers what the status page, the metrics and the CLI show:
// the agent tells it of every frame and verdict.
type observer struct {
	clk                        clock.Clock
	started                    time.Time
	facility, device, entrance string
	queueMax                   int
	watch                      Watch
	counter                    *hourlyCounter
	metrics                    *status.Metrics
	server                     *status.Server
	// scanner is set on a scan-engine device (scanner.go): it shows the
	// engine instead of a camera.
	scanner *scanWatch
	// facilityStats reads the whole facility's counts from central; nil
	// without a credential (facility.go).
	facilityStats *facilityStats

	mu           sync.Mutex
	verdicts     map[token.Verdict]int64
	lastStoreErr time.Time
	lastFrame    time.Time
	frameErrs    int
	ended        bool
}

func newObserver(o Options, w Watch) *observer {
	max := o.QueueMax
	if max <= 0 {
		max = 1_000_000
	}
	return &observer{clk: o.Clock, started: o.Clock.Now(), facility: o.Facility, device: o.Device, entrance: o.Entrance,
		queueMax: max, watch: w, counter: newHourlyCounter(), verdicts: map[token.Verdict]int64{},
		scanner: o.scanner, facilityStats: o.facility}
}

// Flusher is an uplink that can send at once even while it waits out a
// pause after failures (uplink.Sender is one). For a sender without it,
// Flush falls back to Kick, which a backoff pause does not shorten.
type Flusher interface {
	// Flush sends the queue now, skipping any backoff pause.
	Flush()
}

// Flush asks the uplink to send the queue now (the CLI's flush).
func (a *Agent) Flush() {
	switch s := a.p.Sender.(type) {
	case nil:
	case Flusher:
		s.Flush()
	default:
		s.Kick()
	}
}

// StatusServer is the status page; nil when it is off.
func (a *Agent) StatusServer() *status.Server { return a.obs.server }

// Snapshot gathers the agent's state for the status page, the metrics and
// the CLI. It holds no token and no scan id.
func (a *Agent) Snapshot() status.Snapshot {
	o := a.obs
	st := a.Stats()
	now := o.clk.Now()
	s := status.Snapshot{At: now, Facility: o.facility, Device: o.device, Entrance: o.entrance, Started: o.started,
		Scans: map[string]int64{}}
	q, qerr := a.p.Store.Stats()
	if a.o.Time != nil && !q.OldestEnqueued.IsZero() {
		// The queue stamps records with the corrected time; the page
		// reads ages against the device clock.
		q.OldestEnqueued = q.OldestEnqueued.Add(now.Sub(a.o.Time.Correct(now)))
	}
	s.Queue = status.Queue{Depth: q.Depth, OldestEnqueued: q.OldestEnqueued, Dead: q.Dead, Max: o.queueMax}

	w := o.watch
	// The health sources are asked without holding the lock.
	var camState, camProblem, storeProblem string
	var clk status.Clock
	if w.Camera != nil {
		camState, camProblem = w.Camera.CameraHealth()
		camProblem = camera.Redact(camProblem) // a camera URL's password never shows
	}
	if w.Storage != nil {
		storeProblem = w.Storage.StorageHealth()
	}
	if w.Clock != nil {
		clk.Offset, clk.Known, clk.Problem = w.Clock.ClockHealth()
	}
	s.Clock = clk

	o.mu.Lock()
	defer o.mu.Unlock()
	for v, n := range o.verdicts {
		s.Scans[string(v)] = n
	}
	if a.p.Sender != nil {
		u := a.p.Sender.Status()
		s.Uplink = status.Uplink{LastUpload: u.LastSuccess, LastAttempt: u.LastAttempt,
			Failing: u.State == uplink.Offline || u.State == uplink.Degraded, Errors: u.Failures, Acknowledged: u.Acknowledged}
	}
	s.Storage.Failures = st.StoreFailures
	switch {
	case qerr != nil:
		s.Storage.Problem = "the queue cannot be read"
	case !o.lastStoreErr.IsZero() && now.Sub(o.lastStoreErr) < StoreFailureShown:
		s.Storage.Problem = "a scan could not be recorded"
	case float64(q.Depth) >= QueueAlmostFull*float64(o.queueMax):
		s.Storage.Problem = fmt.Sprintf("the queue is almost full (%d of %d)", q.Depth, o.queueMax)
	}
	if s.Storage.Problem == "" {
		s.Storage.Problem = storeProblem
	}
	s.Uplink.Refused = a.Refused()
	if o.scanner != nil {
		s.Scanner = o.scanner.snapshot()
		return s
	}
	s.Camera = o.cameraLocked(now, st.Frames)
	s.Camera.Dropped = st.Dropped
	if w.Camera != nil && camState != "ok" && camState != "starting" {
		// The camera's own view (reopening, absent, watching) wins over
		// what the frame stream shows; while it is ok or starting, the
		// stream says more (starting, no frames, ended).
		s.Camera.State, s.Camera.Problem = camState, camProblem
	}
	s.Ledger = a.ledgerSnapshot()
	return s
}

// cameraLocked derives the camera's state from the frames read.
func (o *observer) cameraLocked(now time.Time, frames int64) status.Camera {
	c := status.Camera{LastFrame: o.lastFrame, Frames: frames}
	switch {
	case o.ended:
		c.State = "ended"
	case o.lastFrame.IsZero() && now.Sub(o.started) < NoFramesAfter:
		c.State = "starting"
	case o.frameErrs > 0 && (o.lastFrame.IsZero() || now.Sub(o.lastFrame) >= NoFramesAfter):
		c.State, c.Problem = "failing", "the camera fails to deliver frames"
	case o.lastFrame.IsZero() || now.Sub(o.lastFrame) >= NoFramesAfter:
		c.State, c.Problem = "no_frames", fmt.Sprintf("no frame for %s", now.Sub(maxTime(o.lastFrame, o.started)).Round(time.Second))
	default:
		c.State = "ok"
	}
	return c
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// counts is the visitor counter the page reads: the durable one of the
// watch, else the in-memory one.
func (o *observer) counts() status.Counter {
	if o.watch.Counts != nil {
		return o.watch.Counts
	}
	return o.counter
}

// noteScan tallies a verdict, and a visitor when the scan was newly
// recorded (added).
func (o *observer) noteScan(s Scan, added bool) {
	o.mu.Lock()
	o.verdicts[s.Verdict]++
	if s.Verdict.Recorded() && !s.Recorded {
		o.lastStoreErr = o.clk.Now()
	}
	o.mu.Unlock()
	if o.metrics != nil {
		o.metrics.ObserveVoice(s.Latency)
	}
	if added {
		o.counter.add(s.At, o.device, 1)
	}
}

// noteFrame notes a frame's arrival (err nil), the end of a finite source
// or a failure of the source.
func (o *observer) noteFrame(ctx context.Context, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case err == nil:
		o.lastFrame = o.clk.Now()
		o.frameErrs = 0
	case errors.Is(err, io.EOF):
		o.ended = true
	case ctx.Err() == nil:
		o.frameErrs++
	}
}

// timedDecoder feeds the decode latency histogram. It measures with the
// machine's monotonic clock: a latency figure, not a decision.
type timedDecoder struct {
	Decoder
	o *observer
}

// Decode decodes and records how long it took.
func (d timedDecoder) Decode(img *image.Gray) (decode.Result, error) {
	t0 := time.Now()
	r, err := d.Decoder.Decode(img)
	if d.o.metrics != nil {
		d.o.metrics.ObserveDecode(time.Since(t0))
	}
	return r, err
}

// openStatus builds the status page for New, unless the options turn it
// off.
func (a *Agent) openStatus() error {
	so := a.o.Status
	if so.Listen == StatusOff || so.Listen == "" {
		return nil
	}
	srv, err := status.New(status.Options{
		Addr: so.Listen, Source: a, Counter: a.obs.counts(), Drainer: a, Queue: so.Queue,
		Facility: a.obs.facilityCounter(),
		Settings: so.Settings, PIN: so.PIN, Language: so.Language, Metrics: a.obs.metrics,
		Clock: a.obs.clk, Log: logging.For(a.o.Log, "status"),
		Ledger: a.ledgerControl(), Paper: a.paperCounter(),
	})
	if err != nil {
		return fmt.Errorf("%w: status: %w", ErrConfig, err)
	}
	a.obs.server = srv
	return nil
}

// SettingsStore is where the manager's settings from the status page are
// kept: settings.json in the data directory.
func SettingsStore(cfg Config) status.FileSettings {
	return status.FileSettings{Path: filepath.Join(cfg.DataDir, "settings.json")}
}

// applySettings lays the manager's saved voice settings over the config.
func applySettings(cfg *Config, log *slog.Logger) {
	st, err := SettingsStore(*cfg).Load()
	if err != nil {
		log.Warn("manager settings ignored", "err", err)
		return
	}
	if st.Volume > 0 {
		cfg.Audio.Volume = st.Volume
	}
	if st.QuietHours != "" {
		cfg.Audio.QuietHours = st.QuietHours
	}
	if st.Tones {
		cfg.Audio.Tones = true
	}
	if st.Language != "" {
		cfg.Status.Language = st.Language
	}
}

// queueCounts reads the durable queue's hourly counters (they survive
// restarts and the 28-day purge of the records themselves): the visitors of
// an hour are the scans first enqueued in it.
type queueCounts struct {
	q      *queue.Queue
	device string
}

// HourlyCounts returns this device's counts of the hours starting in [from, to).
func (c queueCounts) HourlyCounts(from, to time.Time) ([]status.HourCount, error) {
	hs, err := c.q.HourlyCounts(from, to)
	if err != nil {
		return nil, err
	}
	out := make([]status.HourCount, 0, len(hs))
	for _, h := range hs {
		if h.Enqueued > 0 {
			out = append(out, status.HourCount{Hour: h.Hour, Device: c.device, Count: h.Enqueued})
		}
	}
	return out, nil
}

// hourlyCounter counts newly recorded scans per hour and device, in memory
// since the agent started. Open uses the queue's durable counters
// (queueCounts) instead; this is the fallback for a store without them.
type hourlyCounter struct {
	mu sync.Mutex
	n  map[hourKey]int
}

type hourKey struct {
	hour   int64 // Unix seconds of the hour's start
	device string
}

// keepCounts is how long the in-memory counter keeps an hour.
const keepCounts = (status.Days + 1) * 24 * time.Hour

func newHourlyCounter() *hourlyCounter { return &hourlyCounter{n: map[hourKey]int{}} }

func (c *hourlyCounter) add(at time.Time, device string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := at.Truncate(time.Hour).Unix()
	c.n[hourKey{h, device}] += n
	for k := range c.n {
		if h-k.hour > int64(keepCounts/time.Second) {
			delete(c.n, k)
		}
	}
}

// HourlyCounts returns the counts of the hours starting in [from, to).
func (c *hourlyCounter) HourlyCounts(from, to time.Time) ([]status.HourCount, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []status.HourCount
	for k, n := range c.n {
		t := time.Unix(k.hour, 0)
		if !t.Before(from) && t.Before(to) {
			out = append(out, status.HourCount{Hour: t, Device: k.device, Count: n})
		}
	}
	return out, nil
}
