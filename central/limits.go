package central

import (
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kipass/kipass/clock"
)

// Limit is a token bucket: Burst requests at once, refilled at Rate per
// second. A zero Limit lets everything through.
type Limit struct {
	Rate  float64
	Burst int
}

// Limits are central's abuse limits. Endpoints that take no credential are
// limited per source address; ingest is limited per device credential.
type Limits struct {
	// Register limits POST /v1/facilities per source.
	Register Limit
	// Enroll limits POST /v1/enroll (one-time code guesses) per source.
	Enroll Limit
	// Public limits the other endpoints that take no credential (keys,
	// time, business types, unknown paths) per source. Device endpoints
	// called without a credential in development mode are not limited.
	Public Limit
	// Ingest limits POST /v1/scans per device credential.
	Ingest Limit
}

// DefaultLimits are the limits when Options.Limits is nil.
//
//   - Registration: 20 at once (a chain registering its branches), then one
//     a minute per source address.
//   - Enrollment: 10 code attempts at once, then one every 6 s (10 a minute).
//   - Other endpoints without a credential: 120 at once, then 20 a second
//     per source (a facility's devices behind one address ask for the time
//     every 30 s to 5 min and the key set every 10 min).
//   - Ingest: 60 batches at once, then 20 a second per device credential:
//     a device draining its queue after an outage sends 500-scan batches
//     back to back, about 10,000 scans a second at most, so a day of
//     queued scans (a few thousand) drains in seconds without being slowed.
var DefaultLimits = Limits{
	Register: Limit{Rate: 1.0 / 60, Burst: 20},
	Enroll:   Limit{Rate: 1.0 / 6, Burst: 10},
	Public:   Limit{Rate: 20, Burst: 120},
	Ingest:   Limit{Rate: 20, Burst: 60},
}

// limiter keeps one token bucket per key.
type limiter struct {
	lim Limit
	clk clock.Clock

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newLimiter(l Limit, clk clock.Clock) *limiter {
	return &limiter{lim: l, clk: clk, buckets: map[string]*bucket{}}
}

// allow takes a token from key's bucket; when there is none it reports how
// long until there is.
func (l *limiter) allow(key string) (bool, time.Duration) {
	if l == nil || l.lim.Rate <= 0 || l.lim.Burst <= 0 {
		return true, 0
	}
	now := l.clk.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	// Drop the buckets that are full again, at most once a minute, so the
	// map holds only recent sources.
	if now.Sub(l.swept) > time.Minute {
		full := time.Duration(float64(l.lim.Burst) / l.lim.Rate * float64(time.Second))
		for k, b := range l.buckets {
			if now.Sub(b.at) > full {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	b := l.buckets[key]
	if b == nil {
		b = &bucket{tokens: float64(l.lim.Burst), at: now}
		l.buckets[key] = b
	}
	if el := now.Sub(b.at); el > 0 {
		b.tokens = math.Min(float64(l.lim.Burst), b.tokens+el.Seconds()*l.lim.Rate)
	}
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.lim.Rate * float64(time.Second))
}

// source is the address a request comes from: the connection's peer, or
// the last address of Options.ClientIPHeader when central runs behind a
// proxy that sets it.
func (s *Server) source(r *http.Request) string {
	if h := s.opts.ClientIPHeader; h != "" {
		if v := r.Header.Get(h); v != "" {
			parts := strings.Split(v, ",")
			return strings.TrimSpace(parts[len(parts)-1])
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// throttled answers 429 with Retry-After when key's bucket in l is empty,
// and reports whether it did.
func throttled(w http.ResponseWriter, l *limiter, key string) bool {
	ok, wait := l.allow(key)
	if ok {
		return false
	}
	secs := int(math.Ceil(wait.Seconds()))
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeError(w, http.StatusTooManyRequests, "rate_limited", fmt.Sprintf("too many requests; retry after %d s", secs))
	return true
}

// perSource limits h per source address with l.
func (s *Server) perSource(l *limiter, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if throttled(w, l, s.source(r)) {
			return
		}
		h(w, r)
	}
}

// Timeouts bound every connection to central's HTTP server.
type Timeouts struct {
	// ReadHeader bounds reading a request's headers.
	ReadHeader time.Duration
	// Read bounds reading a whole request, body included: a body trickled
	// in slowly is cut off.
	Read time.Duration
	// Write bounds writing an answer, from the end of the request's headers.
	Write time.Duration
	// Idle bounds an idle keep-alive connection.
	Idle time.Duration
	// MaxHeaderBytes bounds a request's headers.
	MaxHeaderBytes int
}

// DefaultTimeouts are the timeouts when Options.Timeouts is nil. A batch is
// at most 4 MiB, and a device's gzip-compressed 500-scan batch about
// 70 KiB: 20 s to read it allows a link of 30 kbit/s.
var DefaultTimeouts = Timeouts{
	ReadHeader:     5 * time.Second,
	Read:           20 * time.Second,
	Write:          60 * time.Second,
	Idle:           120 * time.Second,
	MaxHeaderBytes: 16 << 10,
}

// HTTPServer returns an http.Server for the central API at addr with the
// timeouts of Options.Timeouts.
func (s *Server) HTTPServer(addr string) *http.Server {
	t := DefaultTimeouts
	if s.opts.Timeouts != nil {
		t = *s.opts.Timeouts
	}
	return &http.Server{Addr: addr, Handler: s.Handler(), ReadHeaderTimeout: t.ReadHeader, ReadTimeout: t.Read,
		WriteTimeout: t.Write, IdleTimeout: t.Idle, MaxHeaderBytes: t.MaxHeaderBytes,
		ErrorLog: slog.NewLogLogger(s.opts.Log.Handler(), slog.LevelWarn)}
}
