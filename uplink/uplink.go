// Package uplink forwards queued scans to central in gzip'd batches of up
// to 500, oldest first. A scan leaves the device queue only when central
// acknowledges it (accepted or duplicate); a scan central rejects
// permanently is moved to the queue's dead-letter bucket; everything else
// stays queued and is retried with exponential backoff and jitter,
// honouring Retry-After.
//
// The sender keeps an online/offline state. When central cannot be reached
// at all (no route, refused, reset, timeout) it goes offline and probes
// central with a cheap GET /v1/time, with a short backoff capped at
// Options.ProbeMax (3 s), so a hotspot that comes back is used within a few
// seconds; when central answers with an error (5xx, 429) it stays online
// but degraded and backs off exponentially. Status reports the state, the
// counts and the drain progress for the status page; a long drain also logs
// its progress every Options.ProgressEvery. Requests go through the one
// client for central (central/client), which owns TLS, the credential and
// the classification of failures.
package uplink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/central/client"
	"github.com/kipass/kipass/clock"
	"github.com/kipass/kipass/queue"
)

// Store is the part of the queue the sender uses.
type Store interface {
	// Oldest returns up to n pending records, oldest first.
	Oldest(n int) ([]queue.Record, error)
	// Ack deletes records central acknowledged.
	Ack(ids []string) error
	// Reject moves records central rejected permanently aside.
	Reject(ids, reasons []string) error
}

// depthReader is implemented by stores that can report their depth
// (queue.Queue does); the sender uses it for drain progress.
type depthReader interface {
	Stats() (queue.Stats, error)
}

// attemptMarker is implemented by stores that count attempts per record.
type attemptMarker interface {
	MarkAttempt(ids []string) error
}

// Options configure a Sender.
type Options struct {
	// Central sends the batches (required to send): central's URL, TLS,
	// the credential and the clock samples are its business.
	Central *client.Client
	// BatchSize is the most scans per request; 0 means api.MaxBatch (500).
	BatchSize int
	// Clock drives backoff and polling; clock.Real when nil.
	Clock clock.Clock
	// Log receives progress and errors; slog.Default when nil.
	Log *slog.Logger
	// MinBackoff and MaxBackoff bound the retry delay; 500 ms and 60 s when zero.
	MinBackoff, MaxBackoff time.Duration
	// ProbeMax caps the delay between probes while offline; 3 s when zero.
	ProbeMax time.Duration
	// ProbeTimeout bounds one probe; 3 s when zero.
	ProbeTimeout time.Duration
	// Poll is how long the sender sleeps on an empty queue when not kicked; 5 s when zero.
	Poll time.Duration
	// ProgressEvery is the period of drain progress logs; 10 s when zero.
	ProgressEvery time.Duration
	// NoGzip sends batches uncompressed.
	NoGzip bool
	// Parallel is how many full batches are sent at once while a backlog
	// drains on a healthy link; 2 when zero, 1 turns it off.
	Parallel int
}

// State is the sender's view of the link to central.
type State string

// The states. Starting: nothing sent yet. Online: central answered the last
// request. Degraded: central answered with an error (5xx, 429, 4xx) and the
// sender backs off. Offline: central could not be reached; the sender
// probes it until it answers.
const (
	Starting State = "starting"
	Online   State = "online"
	Degraded State = "degraded"
	Offline  State = "offline"
)

// Status is the sender's state and progress, for the status page.
type Status struct {
	// State is the link state, Since when it was entered.
	State State     `json:"state"`
	Since time.Time `json:"since"`
	// LastError is the last failure (log-safe; never a token), "" after a success.
	LastError string `json:"last_error,omitempty"`
	// LastSuccess is when central last acknowledged a batch.
	LastSuccess time.Time `json:"last_success"`
	// LastAttempt is when a batch was last sent.
	LastAttempt time.Time `json:"last_attempt"`
	// Failures counts batches that failed to reach central or that central
	// refused as a whole, since start.
	Failures int64 `json:"failures"`
	// NextAttempt is when the next send or probe is due while backing off.
	NextAttempt time.Time `json:"next_attempt"`
	// Forwarded, Acknowledged and Rejected count scans since start.
	Forwarded    int64 `json:"forwarded"`
	Acknowledged int64 `json:"acknowledged"`
	Rejected     int64 `json:"rejected"`
	// Remaining is the queue depth at the last progress check (-1: unknown).
	Remaining int `json:"remaining"`
	// Rate is the acknowledged scans per second over the last progress period.
	Rate float64 `json:"rate"`
	// Batch is the current batch size (smaller after network failures).
	Batch int `json:"batch"`
}

// Sender forwards batches from a Store to central.
type Sender struct {
	st  Store
	cfg Options
	// central sends the batches, gzipped unless NoGzip.
	central *client.Client
	kick    chan struct{}
	flush   chan struct{}

	forwarded atomic.Int64
	acked     atomic.Int64
	rejected  atomic.Int64
	failures  atomic.Int64

	// batch is the current batch size: cut to a quarter after a network
	// failure (a 1 KB/s link cannot carry 500 scans within the client
	// timeout), doubled after each success up to BatchSize.
	batch atomic.Int64

	mu     sync.Mutex
	status Status
	// progress window
	winStart time.Time
	winAcked int64
}

// New returns a Sender for st.
func New(st Store, cfg Options) *Sender {
	if cfg.BatchSize <= 0 || cfg.BatchSize > api.MaxBatch {
		cfg.BatchSize = api.MaxBatch
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 60 * time.Second
	}
	if cfg.ProbeMax <= 0 {
		cfg.ProbeMax = 3 * time.Second
	}
	if cfg.ProbeTimeout <= 0 {
		cfg.ProbeTimeout = 3 * time.Second
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 5 * time.Second
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 2
	}
	if cfg.ProgressEvery <= 0 {
		cfg.ProgressEvery = 10 * time.Second
	}
	now := cfg.Clock.Now()
	s := &Sender{st: st, cfg: cfg, central: cfg.Central, kick: make(chan struct{}, 1), flush: make(chan struct{}, 1),
		status: Status{State: Starting, Since: now, Remaining: -1}, winStart: now}
	if s.central != nil && !cfg.NoGzip {
		s.central = s.central.Gzipped()
	}
	s.batch.Store(int64(cfg.BatchSize))
	return s
}

// Kick wakes the sender: a new scan was queued.
func (s *Sender) Kick() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Counts reports scans forwarded (sent in a request), acknowledged and
// rejected since start.
func (s *Sender) Counts() (forwarded, acknowledged, rejected int64) {
	return s.forwarded.Load(), s.acked.Load(), s.rejected.Load()
}

// Status returns the link state and drain progress.
func (s *Sender) Status() Status {
	s.mu.Lock()
	st := s.status
	s.mu.Unlock()
	st.Forwarded, st.Acknowledged, st.Rejected = s.Counts()
	st.Failures = s.failures.Load()
	st.Batch = int(s.batch.Load())
	return st
}

// State returns the link state.
func (s *Sender) State() State { return s.Status().State }

func (s *Sender) setState(ctx context.Context, st State, err error, next time.Time) {
	s.mu.Lock()
	prev := s.status.State
	if prev != st {
		s.status.State, s.status.Since = st, s.cfg.Clock.Now()
	}
	if err != nil {
		s.status.LastError = err.Error()
	} else {
		s.status.LastError = ""
	}
	s.status.NextAttempt = next
	s.mu.Unlock()
	if prev != st {
		level := slog.LevelInfo
		if st == Offline || st == Degraded {
			level = slog.LevelWarn
		}
		args := []any{"from", string(prev), "to", string(st)}
		if err != nil {
			args = append(args, "err", err)
		}
		s.cfg.Log.Log(ctx, level, "uplink state changed", args...)
	}
}

// sleep waits d or until ctx ends; it reports false when ctx ended. A kick
// ends the wait early only when wakeOnKick is set.
func (s *Sender) sleep(ctx context.Context, d time.Duration, wakeOnKick bool) bool {
	var kick chan struct{}
	if wakeOnKick {
		kick = s.kick
	}
	select {
	case <-ctx.Done():
		return false
	case <-s.cfg.Clock.After(d):
	case <-kick:
	case <-s.flush:
	}
	return true
}

// Flush asks the sender to send now, even while it waits out a backoff or
// an offline probe delay (a manager pressed "send now"). Unlike Kick, it
// cuts any pause short.
func (s *Sender) Flush() {
	select {
	case s.flush <- struct{}{}:
	default:
	}
}

// Run forwards batches until ctx ends. Send failures are logged and retried;
// they never end Run. It returns nil when ctx ends.
func (s *Sender) Run(ctx context.Context) error {
	failures := 0
	for ctx.Err() == nil {
		if s.State() == Offline {
			wait := s.probeDelay(failures)
			s.mu.Lock()
			s.status.NextAttempt = s.cfg.Clock.Now().Add(wait)
			s.mu.Unlock()
			if !s.sleep(ctx, wait, false) {
				return nil
			}
			if err := s.probe(ctx); err != nil {
				failures++
				continue
			}
			failures = 0
			s.setState(ctx, Online, nil, time.Time{})
		}
		n, err := s.SendOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case err != nil && client.Unreachable(err):
			failures = 1
			s.setState(ctx, Offline, err, time.Time{})
			continue
		case err != nil:
			failures++
			wait := s.backoff(failures, err)
			s.setState(ctx, Degraded, err, s.cfg.Clock.Now().Add(wait))
			level := slog.LevelWarn
			if errors.Is(err, client.ErrPermanent) {
				level = slog.LevelError
			}
			s.cfg.Log.Log(ctx, level, "uplink send failed; scans stay queued", "err", err, "retry_in", wait.Round(time.Millisecond), "failures", failures)
			// A new scan does not shorten a backoff after a failure.
			if !s.sleep(ctx, wait, false) {
				return nil
			}
		case n > 0:
			failures = 0
			s.setState(ctx, Online, nil, time.Time{})
			s.progress(false)
		default:
			failures = 0
			s.setState(ctx, Online, nil, time.Time{})
			s.progress(true)
			if !s.sleep(ctx, s.cfg.Poll, true) {
				return nil
			}
		}
	}
	return nil
}

// progress updates the drain rate and remaining depth once per
// ProgressEvery and logs a long drain's progress; idle marks an empty queue.
func (s *Sender) progress(idle bool) {
	now := s.cfg.Clock.Now()
	s.mu.Lock()
	el := now.Sub(s.winStart)
	if el < s.cfg.ProgressEvery && !idle {
		s.mu.Unlock()
		return
	}
	acked := s.acked.Load()
	delta := acked - s.winAcked
	if el > 0 {
		s.status.Rate = float64(delta) / el.Seconds()
	}
	s.winStart, s.winAcked = now, acked
	rate := s.status.Rate
	s.mu.Unlock()

	remaining := -1
	if idle {
		remaining = 0
	} else if dr, ok := s.st.(depthReader); ok {
		if st, err := dr.Stats(); err == nil {
			remaining = st.Depth
		}
	}
	s.mu.Lock()
	s.status.Remaining = remaining
	s.mu.Unlock()
	if delta > 0 && !idle && remaining != 0 {
		// Once the queue is empty there is no drain to report (the rate of
		// the last window over an empty queue read as "rate_per_s=0 eta=…").
		args := []any{"acknowledged_total", acked, "remaining", remaining, "rate_per_s", math.Round(rate*10) / 10}
		if remaining > 0 && rate > 0 {
			args = append(args, "eta", (time.Duration(float64(remaining)/rate) * time.Second).Round(time.Second))
		}
		s.cfg.Log.Info("uplink drain progress", args...)
	}
}

// probeDelay is the wait before offline probe number failures+1: short,
// growing from 250 ms to ProbeMax, with jitter.
func (s *Sender) probeDelay(failures int) time.Duration {
	ceil := (250 * time.Millisecond) << min(failures, 10)
	if ceil > s.cfg.ProbeMax {
		ceil = s.cfg.ProbeMax
	}
	return ceil/2 + rand.N(ceil/2+1)
}

// probe asks central for its clock: any HTTP answer means central is
// reachable again.
func (s *Sender) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ProbeTimeout)
	defer cancel()
	err := s.central.Do(ctx, http.MethodGet, api.PathTime, nil, &api.Time{})
	if client.Unreachable(err) {
		return err
	}
	return nil
}

// backoff returns the delay before retry number failures: full jitter over
// an exponential ceiling, or the server's Retry-After when it asked for one.
func (s *Sender) backoff(failures int, err error) time.Duration {
	if ra := client.RetryAfter(err); ra > 0 {
		return min(ra, s.cfg.MaxBackoff)
	}
	if errors.Is(err, client.ErrPermanent) {
		return s.cfg.MaxBackoff
	}
	ceil := s.cfg.MinBackoff << min(failures-1, 20)
	if ceil <= 0 || ceil > s.cfg.MaxBackoff {
		ceil = s.cfg.MaxBackoff
	}
	return s.cfg.MinBackoff/2 + rand.N(ceil-s.cfg.MinBackoff/2+1)
}

// SendOnce sends the oldest queued scans and applies central's answers: one
// batch, or Config.Parallel full batches at once while a backlog drains and
// the link is healthy (they are acknowledged in one queue transaction). It
// returns how many scans central acknowledged or rejected (0 for an empty
// queue). A round in which central asked to retry every scan is a
// retryable error.
func (s *Sender) SendOnce(ctx context.Context) (int, error) {
	size := int(s.batch.Load())
	k := 1
	if size == s.cfg.BatchSize && s.cfg.Parallel > 1 {
		k = s.cfg.Parallel
	}
	recs, err := s.st.Oldest(size * k)
	if err != nil {
		return 0, fmt.Errorf("read queue: %w: %w", client.ErrRetryable, err)
	}
	if len(recs) == 0 {
		return 0, nil
	}
	var chunks [][]queue.Record
	for len(recs) > 0 {
		n := min(size, len(recs))
		chunks, recs = append(chunks, recs[:n]), recs[n:]
	}
	outs := make([]outcome, len(chunks))
	if len(chunks) == 1 {
		outs[0] = s.exchange(ctx, chunks[0])
	} else {
		var wg sync.WaitGroup
		for i := range chunks {
			wg.Add(1)
			go func() { defer wg.Done(); outs[i] = s.exchange(ctx, chunks[i]) }()
		}
		wg.Wait()
	}
	var ack, rej, reasons, retry []string
	var firstErr error
	for _, o := range outs {
		if o.err != nil {
			if firstErr == nil {
				firstErr = o.err
			}
			continue
		}
		ack, rej, reasons, retry = append(ack, o.ack...), append(rej, o.rej...), append(reasons, o.reasons...), append(retry, o.retry...)
	}
	if err := s.st.Ack(ack); err != nil {
		return 0, fmt.Errorf("ack: %w: %w", client.ErrRetryable, err)
	}
	if len(rej) > 0 {
		if err := s.st.Reject(rej, reasons); err != nil {
			return 0, fmt.Errorf("reject: %w: %w", client.ErrRetryable, err)
		}
		s.cfg.Log.Error("central rejected scans permanently; moved to dead letters", "count", len(rej), "first_reason", reasons[0])
	}
	s.acked.Add(int64(len(ack)))
	s.rejected.Add(int64(len(rej)))
	if len(ack) > 0 {
		s.mu.Lock()
		s.status.LastSuccess = s.cfg.Clock.Now()
		s.mu.Unlock()
	}
	if len(retry) > 0 {
		if am, ok := s.st.(attemptMarker); ok {
			if err := am.MarkAttempt(retry); err != nil {
				s.cfg.Log.Warn("could not count attempts", "err", err)
			}
		}
	}
	s.cfg.Log.Debug("batch forwarded", "batches", len(chunks), "acknowledged", len(ack), "rejected", len(rej), "retry", len(retry))
	if firstErr != nil {
		return len(ack) + len(rej), firstErr
	}
	if len(ack)+len(rej) == 0 {
		return 0, fmt.Errorf("send batch: %w: central asked to retry all %d scans", client.ErrRetryable, len(retry))
	}
	return len(ack) + len(rej), nil
}

// outcome is central's answer to one batch, sorted by what to do.
type outcome struct {
	ack, rej, reasons, retry []string
	err                      error
}

// exchange posts one batch and sorts central's per-item answers.
func (s *Sender) exchange(ctx context.Context, recs []queue.Record) (o outcome) {
	batch := api.ScanBatch{Scans: make([]api.Scan, len(recs))}
	for i, r := range recs {
		batch.Scans[i] = r.Scan
	}
	var res api.BatchResult
	s.mu.Lock()
	s.status.LastAttempt = s.cfg.Clock.Now()
	s.mu.Unlock()
	if err := s.central.Do(ctx, http.MethodPost, api.PathScans, batch, &res); err != nil {
		if ctx.Err() == nil {
			s.failures.Add(1)
		}
		var ce *client.Error
		if errors.As(err, &ce) && ce.Status != 0 {
			s.markAttempt(recs)
		}
		if client.Unreachable(err) && ctx.Err() == nil {
			s.batch.Store(max(int64(len(recs))/4, 1))
		}
		return outcome{err: err}
	}
	s.batch.Store(min(s.batch.Load()*2, int64(s.cfg.BatchSize)))
	s.forwarded.Add(int64(len(recs)))
	if len(res.Results) != len(recs) {
		return outcome{err: fmt.Errorf("send batch: %w: central answered %d results for %d scans", client.ErrRetryable, len(res.Results), len(recs))}
	}
	for i, it := range res.Results {
		if it.ID != recs[i].ID {
			return outcome{err: fmt.Errorf("send batch: %w: result %d is for another scan", client.ErrRetryable, i)}
		}
		switch {
		case it.Status.Acknowledged():
			o.ack = append(o.ack, it.ID)
		case it.Status == api.Rejected:
			o.rej, o.reasons = append(o.rej, it.ID), append(o.reasons, it.Reason)
		default:
			o.retry = append(o.retry, it.ID)
		}
	}
	return o
}

func (s *Sender) markAttempt(recs []queue.Record) {
	am, ok := s.st.(attemptMarker)
	if !ok {
		return
	}
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.ID
	}
	if err := am.MarkAttempt(ids); err != nil {
		s.cfg.Log.Warn("could not count attempts", "err", err)
	}
}
