// Package uplink forwards queued scans to central in batches. A scan leaves
// the device queue only when central acknowledges it (accepted or
// duplicate); a scan central rejects permanently is moved to the queue's
// dead-letter bucket; everything else stays queued and is retried with
// exponential backoff and jitter, honouring Retry-After.
package uplink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/kipass/kipass/central/api"
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

// Config configures a Sender.
type Config struct {
	// URL is central's base URL, such as "https://central.example:8443".
	URL string
	// Credential is the device credential, sent as a bearer token.
	Credential string
	// BatchSize is the most scans per request; 0 means api.MaxBatch.
	BatchSize int
	// Client makes the requests; one with a 10 s timeout when nil.
	Client *http.Client
	// Clock drives backoff and polling; clock.Real when nil.
	Clock clock.Clock
	// Log receives progress and errors; slog.Default when nil.
	Log *slog.Logger
	// MinBackoff and MaxBackoff bound the retry delay; 500 ms and 60 s when zero.
	MinBackoff, MaxBackoff time.Duration
	// Poll is how long the sender sleeps on an empty queue when not kicked; 5 s when zero.
	Poll time.Duration
	// OnServerTime, when set, is called after every answer that carries
	// central's clock, with the device times (from Clock) just before the
	// request was sent and just after the answer arrived. The trust package
	// learns the offset to central's clock from it.
	OnServerTime func(sent, received, server time.Time)
}

// Sender forwards batches from a Store to central.
type Sender struct {
	st   Store
	cfg  Config
	kick chan struct{}

	forwarded atomic.Int64
	acked     atomic.Int64
	rejected  atomic.Int64
}

// New returns a Sender for st.
func New(st Store, cfg Config) *Sender {
	if cfg.BatchSize <= 0 || cfg.BatchSize > api.MaxBatch {
		cfg.BatchSize = api.MaxBatch
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
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
	if cfg.Poll <= 0 {
		cfg.Poll = 5 * time.Second
	}
	return &Sender{st: st, cfg: cfg, kick: make(chan struct{}, 1)}
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

// Run forwards batches until ctx ends. Send failures are logged and retried;
// they never end Run. It returns nil when ctx ends.
func (s *Sender) Run(ctx context.Context) error {
	failures := 0
	for {
		n, err := s.SendOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var wait time.Duration
		switch {
		case err != nil:
			failures++
			wait = s.backoff(failures, err)
			level := slog.LevelWarn
			if errors.Is(err, ErrPermanent) {
				level = slog.LevelError
			}
			s.cfg.Log.Log(ctx, level, "uplink send failed; scans stay queued", "err", err, "retry_in", wait.Round(time.Millisecond), "failures", failures)
		case n > 0:
			failures = 0
			continue
		default:
			failures = 0
			wait = s.cfg.Poll
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.cfg.Clock.After(wait):
		case <-s.kick:
			if err != nil {
				// A new scan does not shorten a backoff after a failure.
				select {
				case <-ctx.Done():
					return nil
				case <-s.cfg.Clock.After(wait):
				}
			}
		}
	}
}

// backoff returns the delay before retry number failures: full jitter over
// an exponential ceiling, or the server's Retry-After when it asked for one.
func (s *Sender) backoff(failures int, err error) time.Duration {
	var se *sendError
	if errors.As(err, &se) && se.retryAfter > 0 {
		return min(se.retryAfter, s.cfg.MaxBackoff)
	}
	if errors.Is(err, ErrPermanent) {
		return s.cfg.MaxBackoff
	}
	ceil := s.cfg.MinBackoff << min(failures-1, 20)
	if ceil <= 0 || ceil > s.cfg.MaxBackoff {
		ceil = s.cfg.MaxBackoff
	}
	return s.cfg.MinBackoff/2 + rand.N(ceil-s.cfg.MinBackoff/2+1)
}

// SendOnce sends one batch of the oldest queued scans and applies central's
// answer. It returns how many scans central acknowledged or rejected (0 for
// an empty queue).
func (s *Sender) SendOnce(ctx context.Context) (int, error) {
	recs, err := s.st.Oldest(s.cfg.BatchSize)
	if err != nil {
		return 0, &sendError{op: "read queue", class: ErrRetryable, err: err}
	}
	if len(recs) == 0 {
		return 0, nil
	}
	batch := api.ScanBatch{Scans: make([]api.Scan, len(recs))}
	for i, r := range recs {
		batch.Scans[i] = api.Scan{
			ID: r.ID, Facility: r.Facility, Device: r.Device, DeviceTime: r.DeviceTime,
			CorrectedTime: r.CorrectedTime, Token: r.Token, Verdict: r.Verdict,
		}
	}
	res, err := s.post(ctx, batch)
	if err != nil {
		return 0, err
	}
	s.forwarded.Add(int64(len(recs)))
	if len(res.Results) != len(recs) {
		return 0, &sendError{op: "send batch", class: ErrRetryable,
			err: fmt.Errorf("central answered %d results for %d scans", len(res.Results), len(recs))}
	}
	var ack, rej, reasons []string
	for i, it := range res.Results {
		if it.ID != recs[i].ID {
			return 0, &sendError{op: "send batch", class: ErrRetryable, err: fmt.Errorf("result %d is for another scan", i)}
		}
		switch {
		case it.Status.Acknowledged():
			ack = append(ack, it.ID)
		case it.Status == api.Rejected:
			rej, reasons = append(rej, it.ID), append(reasons, it.Reason)
		}
	}
	if err := s.st.Ack(ack); err != nil {
		return 0, &sendError{op: "ack", class: ErrRetryable, err: err}
	}
	if len(rej) > 0 {
		if err := s.st.Reject(rej, reasons); err != nil {
			return 0, &sendError{op: "reject", class: ErrRetryable, err: err}
		}
		s.cfg.Log.Error("central rejected scans permanently; moved to dead letters", "count", len(rej), "first_reason", reasons[0])
	}
	s.acked.Add(int64(len(ack)))
	s.rejected.Add(int64(len(rej)))
	s.cfg.Log.Debug("batch forwarded", "sent", len(recs), "acknowledged", len(ack), "rejected", len(rej))
	return len(ack) + len(rej), nil
}

func (s *Sender) post(ctx context.Context, b api.ScanBatch) (api.BatchResult, error) {
	body, err := json.Marshal(b)
	if err != nil {
		return api.BatchResult{}, &sendError{op: "encode batch", class: ErrPermanent, err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL+api.PathScans, bytes.NewReader(body))
	if err != nil {
		return api.BatchResult{}, &sendError{op: "build request", class: ErrPermanent, err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	if s.cfg.Credential != "" {
		req.Header.Set("Authorization", "Bearer "+s.cfg.Credential)
	}
	sent := s.cfg.Clock.Now()
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return api.BatchResult{}, &sendError{op: "post batch", class: ErrRetryable, err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return api.BatchResult{}, &sendError{op: "read answer", class: ErrRetryable, err: err}
	}
	if resp.StatusCode != http.StatusOK {
		class := ErrPermanent
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout {
			class = ErrRetryable
		}
		var ae api.Error
		_ = json.Unmarshal(data, &ae)
		return api.BatchResult{}, &sendError{op: "post batch", class: class,
			err:        fmt.Errorf("central answered %s (reason %q)", resp.Status, ae.Reason),
			retryAfter: retryAfter(resp.Header.Get("Retry-After"), s.cfg.Clock.Now())}
	}
	received := s.cfg.Clock.Now()
	var res api.BatchResult
	if err := json.Unmarshal(data, &res); err != nil {
		return api.BatchResult{}, &sendError{op: "decode answer", class: ErrRetryable, err: err}
	}
	if s.cfg.OnServerTime != nil && !res.ServerTime.IsZero() {
		s.cfg.OnServerTime(sent, received, res.ServerTime)
	}
	return res, nil
}

// retryAfter parses a Retry-After header: delay seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	if n, err := strconv.Atoi(h); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
