package uplink

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kipass/kipass/central"
	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/central/client"
	"github.com/kipass/kipass/clock"
	"github.com/kipass/kipass/queue"
	"github.com/kipass/kipass/token"
)

type fixture struct {
	q    *queue.Queue
	key  token.PrivateKey
	keys *token.KeySet
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	q, err := queue.Open(filepath.Join(t.TempDir(), "queue.db"), queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	k, err := token.GenerateKey("dev")
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{q: q, key: k, keys: token.NewKeySet(k.Public())}
}

func (f *fixture) enqueue(t *testing.T, n int, facility, device string) []string {
	t.Helper()
	var ids []string
	now := time.Now()
	for i := 0; i < n; i++ {
		tok, err := token.Signer{Key: f.key}.Issue(now)
		if err != nil {
			t.Fatal(err)
		}
		r := queue.Record{Scan: api.Scan{ID: token.ScanID(device, tok), Facility: facility, Device: device,
			DeviceTime: now, CorrectedTime: now, Token: tok, Verdict: string(token.Verified)}}
		if _, err := f.q.Enqueue(r); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	return ids
}

func (f *fixture) central(t *testing.T) *central.Server {
	t.Helper()
	c, err := central.Open(filepath.Join(t.TempDir(), "central.db"), central.Options{Keys: f.keys})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// centralAt returns the one client for central at url, stamped by clk
// (the machine clock when nil).
func centralAt(t *testing.T, url string, clk clock.Clock, timeout time.Duration) *client.Client {
	t.Helper()
	o := client.Options{URL: url, Timeout: timeout}
	if clk != nil {
		o.Clock = clk
	}
	c, err := client.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func depth(t *testing.T, q *queue.Queue) int {
	t.Helper()
	st, err := q.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return st.Depth
}

func TestSendToRealCentralAcknowledges(t *testing.T) {
	f := newFixture(t)
	f.enqueue(t, 7, "F1", "D1")
	c := f.central(t)
	srv := httptest.NewServer(c.Handler())
	defer srv.Close()

	s := New(f.q, Options{Central: centralAt(t, srv.URL, nil, 0), BatchSize: 3})
	total := 0
	for {
		n, err := s.SendOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		total += n
	}
	if total != 7 || depth(t, f.q) != 0 {
		t.Fatalf("acknowledged %d, depth %d", total, depth(t, f.q))
	}
	if n, _ := c.ScanCount(); n != 7 {
		t.Fatalf("central stored %d scans, want 7", n)
	}
	fw, ack, rej := s.Counts()
	if fw != 7 || ack != 7 || rej != 0 {
		t.Fatalf("counts = %d %d %d", fw, ack, rej)
	}
}

func TestCentralUnreachableThenBack(t *testing.T) {
	f := newFixture(t)
	f.enqueue(t, 5, "F1", "D1")
	// Reserve a loopback port, then close it: central is down.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	s := New(f.q, Options{Central: centralAt(t, "http://"+addr, nil, time.Second), MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	if _, err := s.SendOnce(context.Background()); !errors.Is(err, client.ErrRetryable) {
		t.Fatalf("send to a dead central: err = %v, want retryable", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	time.Sleep(50 * time.Millisecond) // a few failed rounds
	if d := depth(t, f.q); d != 5 {
		t.Fatalf("scans left the queue while central was down: depth %d", d)
	}

	c := f.central(t)
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: c.Handler()}
	go srv.Serve(ln)
	defer srv.Close()

	deadline := time.Now().Add(10 * time.Second)
	for depth(t, f.q) != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run returned %v", err)
	}
	if d := depth(t, f.q); d != 0 {
		t.Fatalf("queue not drained after central returned: depth %d", d)
	}
	if n, _ := c.ScanCount(); n != 5 {
		t.Fatalf("central stored %d, want 5", n)
	}
}

func TestAnswersClassified(t *testing.T) {
	cases := []struct {
		code       int
		retryAfter string
		class      error
		wantWait   time.Duration
	}{
		{500, "", client.ErrRetryable, 0},
		{503, "", client.ErrRetryable, 0},
		{429, "7", client.ErrRetryable, 7 * time.Second},
		{400, "", client.ErrPermanent, time.Minute},
		{401, "", client.ErrPermanent, time.Minute},
	}
	for _, c := range cases {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if c.retryAfter != "" {
				w.Header().Set("Retry-After", c.retryAfter)
			}
			w.WriteHeader(c.code)
			w.Write([]byte(`{"error":"x","reason":"test"}`))
		}))
		f := newFixture(t)
		f.enqueue(t, 2, "F1", "D1")
		fc := clock.NewFake(time.Now())
		s := New(f.q, Options{Central: centralAt(t, srv.URL, fc, 0), MaxBackoff: time.Minute, Clock: fc})
		_, err := s.SendOnce(context.Background())
		srv.Close()
		if !errors.Is(err, c.class) {
			t.Fatalf("%d: err = %v, want %v", c.code, err, c.class)
		}
		if c.wantWait > 0 {
			if got := s.backoff(1, err); got != c.wantWait {
				t.Fatalf("%d: backoff = %v, want %v", c.code, got, c.wantWait)
			}
		}
		if d := depth(t, f.q); d != 2 {
			t.Fatalf("%d: depth %d, scans must stay queued", c.code, d)
		}
	}
}

func TestBackoffGrowsWithinBounds(t *testing.T) {
	s := New(nil, Options{MinBackoff: 100 * time.Millisecond, MaxBackoff: 2 * time.Second})
	err := &client.Error{Op: "x", Status: 503, Retryable: true}
	for failures := 1; failures <= 30; failures++ {
		for i := 0; i < 50; i++ {
			d := s.backoff(failures, err)
			ceil := min(100*time.Millisecond<<min(failures-1, 20), 2*time.Second)
			if d < 50*time.Millisecond || d > ceil {
				t.Fatalf("failures=%d: backoff %v outside [50ms, %v]", failures, d, ceil)
			}
		}
	}
}

func TestRejectedGoToDeadLetters(t *testing.T) {
	f := newFixture(t)
	f.enqueue(t, 2, "F1", "D1")
	// A scan signed by a key central does not know is rejected permanently.
	other, _ := token.GenerateKey("dev")
	tok, _ := token.Signer{Key: other}.Issue(time.Now())
	bad := queue.Record{Scan: api.Scan{ID: token.ScanID("D1", tok), Facility: "F1", Device: "D1",
		DeviceTime: time.Now(), CorrectedTime: time.Now(), Token: tok, Verdict: string(token.Verified)}}
	if _, err := f.q.Enqueue(bad); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(f.central(t).Handler())
	defer srv.Close()
	s := New(f.q, Options{Central: centralAt(t, srv.URL, nil, 0)})
	n, err := s.SendOnce(context.Background())
	if err != nil || n != 3 {
		t.Fatalf("n=%d err=%v", n, err)
	}
	st, _ := f.q.Stats()
	if st.Depth != 0 || st.Dead != 1 {
		t.Fatalf("stats = %+v, want depth 0 dead 1", st)
	}
}

// TestFlushCutsBackoffShort: after a failure the sender waits out a long
// backoff on a fake clock that never advances; Flush sends at once.
func TestFlushCutsBackoffShort(t *testing.T) {
	f := newFixture(t)
	f.enqueue(t, 3, "F1", "D1")
	c := f.central(t)
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		c.Handler().ServeHTTP(w, r)
	}))
	defer srv.Close()
	fc := clock.NewFake(time.Now())
	s := New(f.q, Options{Central: centralAt(t, srv.URL, fc, 0), Clock: fc, MinBackoff: time.Hour, MaxBackoff: time.Hour, Poll: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for fc.Waiters() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // the sender is in its backoff
	}
	if calls.Load() != 1 || depth(t, f.q) != 3 {
		t.Fatalf("before flush: calls=%d depth=%d", calls.Load(), depth(t, f.q))
	}
	s.Flush()
	for depth(t, f.q) != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if d := depth(t, f.q); d != 0 {
		t.Fatalf("flush did not send during the backoff: depth %d", d)
	}
}
