// Package agent wires the scanner agent's stages together and supervises
// them: frames from a source are decoded, the code is checked, a scan worth
// recording is committed durably to the queue before the voice speaks, and
// the uplink forwards the queue to central. The agent declares the small
// interfaces it consumes; the camera, decode, token, queue, audio and uplink
// packages provide them.
package agent

import (
	"context"
	"errors"
	"image"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kipass/kipass/audio"
	"github.com/kipass/kipass/camera"
	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/clock"
	"github.com/kipass/kipass/decode"
	"github.com/kipass/kipass/heartbeat"
	"github.com/kipass/kipass/ledger"
	"github.com/kipass/kipass/queue"
	"github.com/kipass/kipass/status"
	"github.com/kipass/kipass/token"
	"github.com/kipass/kipass/uplink"
	"golang.org/x/sync/errgroup"
)

// Frames is a source of camera frames.
type Frames interface {
	// Next blocks for the next frame; io.EOF ends a finite source.
	Next(ctx context.Context) (camera.Frame, error)
	// Close releases the source.
	Close() error
}

// Decoder finds a QR code's text in a frame.
type Decoder interface {
	// Decode returns the text, or an error wrapping decode.ErrNoCode.
	Decode(img *image.Gray) (decode.Result, error)
}

// Verifier judges a scanned text at a corrected time.
type Verifier interface {
	// Check returns the verdict and the error explaining a rejection.
	Check(ctx context.Context, text string, now time.Time) (token.Verdict, error)
}

// Store is the durable queue.
type Store interface {
	// Enqueue commits a record durably; added is false for a duplicate.
	Enqueue(r queue.Record) (added bool, err error)
	// Stats reports the queue depth.
	Stats() (queue.Stats, error)
}

// Speaker plays spoken prompts without blocking for their length.
type Speaker interface {
	// Say starts playing p.
	Say(p audio.Prompt) error
}

// Sender forwards the queue to central.
type Sender interface {
	// Run forwards until ctx ends.
	Run(ctx context.Context) error
	// Kick wakes the sender after an enqueue.
	Kick()
	// Status reports the link to central and the scans forwarded,
	// acknowledged and rejected.
	Status() uplink.Status
}

// Corrector gives the device time corrected to central's clock.
type Corrector interface {
	// Correct returns the corrected time at device reading d.
	Correct(d time.Time) time.Time
}

// Runner is a long-running background part (key refresh, clock sync).
type Runner interface {
	// Run works until ctx ends.
	Run(ctx context.Context) error
}

// Parts are the stages the agent wires together. New wires them once; none
// is replaced afterwards.
type Parts struct {
	// Frames or Codes is the source: camera frames to decode, or texts a
	// scan engine decoded. One of the two is set.
	Frames   Frames
	Codes    Codes
	Decoder  Decoder
	Verifier Verifier
	Store    Store
	Speaker  Speaker
	Sender   Sender
	// Ledger checks staff control codes and keeps the paper ledger's
	// sheets; nil refuses every control code (ledger.go).
	Ledger Ledger
	// Background parts run beside the scan loop under the same errgroup.
	Background []Runner
	// Watch lists the health sources the status page reads; nil fields
	// are derived from what the agent sees itself.
	Watch Watch
	// Trust reports the clock offset and the key set; Trust() is the zero
	// TrustStatus when nil.
	Trust TrustReporter
	// Owned are released by Close, last first (the files and devices Open
	// opened).
	Owned []io.Closer
}

// TrustReporter reports the agent's trust state.
type TrustReporter interface {
	// TrustStatus returns the clock offset and key set in force.
	TrustStatus() TrustStatus
}

// Scan describes one verdict given at the door. It never carries the token.
type Scan struct {
	// At is the device time of the verdict.
	At time.Time
	// Corrected is At corrected to central's clock; verdicts use it.
	Corrected time.Time
	// Verdict is what the door said.
	Verdict token.Verdict
	// Reason is a log-safe rejection reason ("ok" when verified).
	Reason string
	// Recorded is true when the scan is durably queued (or was already).
	Recorded bool
	// Prompt is what was played.
	Prompt audio.Prompt
	// Latency is from frame capture to the start of the voice.
	Latency time.Duration
}

// Stats counts what the agent has done since start.
type Stats struct {
	// Frames read from the source.
	Frames int64
	// Dropped frames: the source delivered them but the scan loop never
	// saw them, counted from gaps in camera.Frame.Seq (a newer frame
	// replaced them while the loop was busy, or low-power mode skipped
	// them).
	Dropped int64
	// Decoded frames that held a code (after duplicate suppression: codes).
	Decoded int64
	// Verified scans (verdict verified or pending).
	Verified int64
	// Pending scans, among Verified: recorded, awaiting central's verdict.
	Pending int64
	// Enqueued scans durably committed (first time).
	Enqueued int64
	// Rejected verdicts: invalid or expired.
	Rejected int64
	// StoreFailures are scans that could not be recorded.
	StoreFailures int64
	// Forwarded, Acknowledged and DeadLettered come from the uplink.
	Forwarded, Acknowledged, DeadLettered int64
}

// Options tune an Agent built with New.
type Options struct {
	// Facility and Device are written into every record.
	Facility, Device string
	// Entrance is the entrance alias the status page shows.
	Entrance string
	// QueueMax is the queue's capacity, for the "almost full" alarm;
	// 1,000,000 when zero.
	QueueMax int
	// DedupWindow suppresses the same code seen again within it.
	DedupWindow time.Duration
	// Clock is the device clock; clock.Real when nil.
	Clock clock.Clock
	// Time corrects device time to central's clock (trust.Clock); the
	// device time is used as is when nil.
	Time Corrector
	// Log receives the agent's logs; slog.Default when nil.
	Log *slog.Logger
	// OnScan, when set, is called after every verdict.
	OnScan func(Scan)
	// OnSourceEnd, when set, is called once when a finite source ends.
	OnSourceEnd func()
	// OnCode, when set, is called when a frame held a code (a low-power
	// camera returns to its full frame rate).
	OnCode func()
	// Status serves the local status page and /metrics when its Listen is
	// set (and not "off").
	Status StatusOptions
	// Heartbeat, when its Central is set, reports the agent's health to
	// central from the status snapshot; New fills in its State.
	Heartbeat heartbeat.Options

	// Set by Open: central's counts for the page, a scan engine's health,
	// and central's refusal of this device as the registration check
	// keeps it.
	facility *facilityStats
	scanner  *scanWatch
	refusal  *atomic.Pointer[status.Refusal]
}

// StatusOptions configure the local status page.
type StatusOptions struct {
	// Listen is the page's address; "" or "off" turns the page off.
	Listen string
	// PIN unlocks the manager's settings; empty keeps them locked.
	PIN string
	// Language is the page's default language, "ko" or "en".
	Language string
	// Settings keeps the manager's settings; nil hides the settings page.
	Settings status.SettingsStore
	// Queue gives the page the queue's counts and the dead-letter resend;
	// nil hides them.
	Queue status.QueueAdmin
}

// Agent runs the scan path.
type Agent struct {
	p     Parts
	o     Options
	dedup *camera.Dedup // suppresses the same code seen again within the window

	frames, dropped, decoded, verified, pending, enqueued, rejected, storeFailures atomic.Int64
	lastSeq                                                                        uint64 // the scan loop's last camera.Frame.Seq

	closeOnce sync.Once

	// refusal is central's refusal of this device, nil while not refused
	// (registration.go); shared with the registration check.
	refusal *atomic.Pointer[status.Refusal]

	obs *observer   // status page, metrics and health (state.go)
	led ledgerState // the paper ledger beside the scanner (ledger.go)
}

// New returns an Agent over the given parts, with its status page and
// heartbeat when o asks for them. A bad status page option is an error
// wrapping ErrConfig.
func New(p Parts, o Options) (*Agent, error) {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	a := &Agent{p: p, o: o, dedup: camera.NewDedup(o.DedupWindow), refusal: o.refusal}
	if pl, ok := p.Ledger.(paperLedger); ok {
		a.led.codes, a.led.book, a.led.counts = pl.codes, pl.book, pl.counts
	}
	a.obs = newObserver(o, p.Watch)
	a.obs.metrics = status.NewMetrics(a)
	if p.Decoder != nil {
		a.p.Decoder = timedDecoder{p.Decoder, a.obs}
	}
	if err := a.openStatus(); err != nil {
		return nil, err
	}
	if o.Heartbeat.Central != nil {
		hb := o.Heartbeat
		hb.State = func() heartbeat.State { return heartbeatState(a.Snapshot()) }
		a.p.Background = append(a.p.Background[:len(a.p.Background):len(a.p.Background)], heartbeat.New(hb))
	}
	return a, nil
}

// Stats returns the counters.
func (a *Agent) Stats() Stats {
	s := Stats{
		Frames: a.frames.Load(), Dropped: a.dropped.Load(), Decoded: a.decoded.Load(), Verified: a.verified.Load(), Pending: a.pending.Load(),
		Enqueued: a.enqueued.Load(), Rejected: a.rejected.Load(), StoreFailures: a.storeFailures.Load(),
	}
	if a.p.Sender != nil {
		u := a.p.Sender.Status()
		s.Forwarded, s.Acknowledged, s.DeadLettered = u.Forwarded, u.Acknowledged, u.Rejected
	}
	return s
}

// QueueStats reports the durable queue.
func (a *Agent) QueueStats() (queue.Stats, error) { return a.p.Store.Stats() }

// Run runs the scan loop and the uplink under one errgroup until ctx ends.
// A failing source or network never ends Run; only ctx does, or a stage
// failing in a way that cannot be retried.
func (a *Agent) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	if a.p.Frames != nil {
		g.Go(func() error { return a.scanLoop(ctx) })
	}
	if a.p.Codes != nil {
		g.Go(func() error { return a.codeLoop(ctx) })
	}
	if a.p.Sender != nil {
		g.Go(func() error { return a.p.Sender.Run(ctx) })
	}
	for _, r := range a.p.Background {
		g.Go(func() error { return r.Run(ctx) })
	}
	if srv := a.obs.server; srv != nil {
		g.Go(func() error { return srv.Run(ctx) })
	}
	err := g.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// Close releases the parts opened by Open.
func (a *Agent) Close() error {
	var errs []error
	a.closeOnce.Do(func() {
		for i := len(a.p.Owned) - 1; i >= 0; i-- {
			errs = append(errs, a.p.Owned[i].Close())
		}
	})
	return errors.Join(errs...)
}

// scanLoop decodes and judges frames until ctx ends.
func (a *Agent) scanLoop(ctx context.Context) error {
	return a.pump(ctx, "frame source", a.nextFrame)
}

// nextFrame reads one frame, counts it and judges it.
func (a *Agent) nextFrame(ctx context.Context) error {
	f, err := a.p.Frames.Next(ctx)
	a.obs.noteFrame(ctx, err)
	if err != nil {
		return err
	}
	a.frames.Add(1)
	a.noteSeq(f.Seq)
	a.handleFrame(ctx, f)
	return nil
}

// noteSeq counts the frames skipped before one numbered seq. A sequence
// that starts again (the camera was reopened) counts from 1; sources that
// do not number their frames (seq 0) count nothing.
func (a *Agent) noteSeq(seq uint64) {
	if seq == 0 {
		return
	}
	last := a.lastSeq
	if seq <= last {
		last = 0
	}
	if gap := seq - last - 1; gap > 0 {
		a.dropped.Add(int64(gap))
	}
	a.lastSeq = seq
}

// pump calls next until ctx ends. A failing source is retried after a
// growing pause (it never ends Run); io.EOF ends a finite source, after
// which pump waits for ctx.
func (a *Agent) pump(ctx context.Context, what string, next func(context.Context) error) error {
	failures := 0
	for {
		err := next(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, io.EOF):
			a.o.Log.Info(what + " ended")
			if a.o.OnSourceEnd != nil {
				a.o.OnSourceEnd()
			}
			<-ctx.Done()
			return nil
		case err != nil:
			failures++
			wait := min(time.Duration(failures)*200*time.Millisecond, 5*time.Second)
			a.o.Log.Warn(what+" failed; retrying", "err", err, "retry_in", wait)
			select {
			case <-ctx.Done():
				return nil
			case <-a.o.Clock.After(wait):
			}
			continue
		}
		failures = 0
	}
}

func (a *Agent) handleFrame(ctx context.Context, f camera.Frame) {
	if f.Gray == nil {
		return
	}
	res, err := a.p.Decoder.Decode(f.Gray)
	if err != nil {
		if !errors.Is(err, decode.ErrNoCode) {
			a.o.Log.Debug("decode failed", "err", err)
		}
		return
	}
	if a.o.OnCode != nil {
		a.o.OnCode()
	}
	a.HandleText(ctx, res.Text, f.At)
}

// HandleText judges one decoded (or scan-engine) text captured at the given
// time: verdict, durable enqueue when the verdict is recorded, then voice.
// It returns the verdict given; repeats of the same text within the dedup
// window are ignored and a staff control code is no visitor (ok false). It is safe to call from several
// goroutines at once (the scan loop and kipass-agent feed).
func (a *Agent) HandleText(ctx context.Context, text string, captured time.Time) (scan Scan, ok bool) {
	now := a.o.Clock.Now()
	if !a.dedup.Fresh(text, now) {
		return Scan{}, false
	}
	a.decoded.Add(1)
	if ledger.IsControl(text) {
		a.handleControl(text) // staff's control code: never judged as a visitor token
		return Scan{}, false
	}

	corrected := now
	if a.o.Time != nil {
		corrected = a.o.Time.Correct(now)
	}
	verdict, verr := a.p.Verifier.Check(ctx, text, corrected)
	scan = Scan{At: now, Corrected: corrected, Verdict: verdict, Reason: token.Reason(verr)}
	added := false
	if verdict.Recorded() {
		a.verified.Add(1)
		if verdict == token.Pending {
			a.pending.Add(1)
		}
		rec := queue.Record{Scan: api.Scan{ID: token.ScanID(a.o.Device, text), Facility: a.o.Facility, Device: a.o.Device,
			DeviceTime: now, CorrectedTime: corrected, Token: text, Verdict: string(verdict)}}
		var err error
		added, err = a.p.Store.Enqueue(rec)
		if err != nil {
			a.storeFailures.Add(1)
			a.o.Log.Error("scan could not be recorded; told the visitor", "err", err)
		} else {
			scan.Recorded = true
			if added {
				a.enqueued.Add(1)
			}
			if a.p.Sender != nil {
				a.p.Sender.Kick()
			}
		}
	} else {
		a.rejected.Add(1)
	}
	scan.Prompt = PromptFor(verdict, scan.Recorded)
	switch {
	case scan.Recorded && a.Refused() != nil:
		// Recorded, but central refuses this device: the visit can never be
		// delivered, so it is not confirmed; the door says why.
		scan.Prompt = audio.NotRegistered
		a.say(scan.Prompt)
	case verdict.Recorded() && !scan.Recorded || a.cannotRecord(now) != "":
		scan.Prompt = a.remindOr(now, scan.Prompt) // at most once a minute: 수기 명부를 작성해 주세요
	default:
		a.say(scan.Prompt)
	}
	scan.Latency = a.o.Clock.Now().Sub(captured)
	a.o.Log.Info("scan", "verdict", string(verdict), "reason", scan.Reason, "recorded", scan.Recorded,
		"latency_ms", float64(scan.Latency.Microseconds())/1000)
	a.obs.noteScan(scan, added)
	if a.o.OnScan != nil {
		a.o.OnScan(scan)
	}
	return scan, true
}

// PromptFor maps a verdict to the prompt played at the door. A verdict that
// should be recorded but was not (storage failure) never says "verified".
func PromptFor(v token.Verdict, recorded bool) audio.Prompt {
	switch {
	case v.Recorded() && !recorded:
		return audio.StorageFailure
	case v == token.Verified:
		return audio.Verified
	case v == token.Pending:
		return audio.Pending
	case v == token.Expired:
		return audio.Expired
	default:
		return audio.Invalid
	}
}
