package uplink

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestBatchesAreGzipped(t *testing.T) {
	f := newFixture(t)
	f.enqueue(t, 20, "F1", "D1")
	c := f.central(t)
	// Through the real central: it accepts gzip, and the body really is gzip.
	var seen atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Encoding") == "gzip" {
			seen.Add(1)
		}
		c.Handler().ServeHTTP(w, r)
	}))
	defer srv.Close()
	s := New(f.q, Options{Central: centralAt(t, srv.URL, nil, 0)})
	if n, err := s.SendOnce(context.Background()); err != nil || n != 20 {
		t.Fatalf("n=%d err=%v", n, err)
	}
	if seen.Load() != 1 {
		t.Fatalf("gzip requests = %d", seen.Load())
	}
	if n, _ := c.ScanCount(); n != 20 {
		t.Fatalf("central stored %d", n)
	}
}

// A hotspot drop: the sender goes offline, probes with a short cap, and
// drains within a few probe periods once central is back, even though its
// batch backoff cap is a minute.
func TestOfflineProbeRecoversFast(t *testing.T) {
	f := newFixture(t)
	f.enqueue(t, 5, "F1", "D1")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := New(f.q, Options{Central: centralAt(t, "http://"+addr, nil, time.Second), MinBackoff: time.Minute, MaxBackoff: time.Minute,
		ProbeMax: 100 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for s.State() != Offline && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if st := s.Status(); st.State != Offline || st.LastError == "" {
		t.Fatalf("status while central is down: %+v", st)
	}
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: f.central(t).Handler()}
	go srv.Serve(ln)
	defer srv.Close()
	back := time.Now()
	for depth(t, f.q) != 0 && time.Now().Before(back.Add(20*time.Second)) {
		time.Sleep(5 * time.Millisecond)
	}
	took := time.Since(back)
	cancel()
	<-done
	st := s.Status()
	if depth(t, f.q) != 0 || st.State != Online || st.Acknowledged != 5 || st.LastSuccess.IsZero() {
		t.Fatalf("after central came back (%v): depth %d status %+v", took, depth(t, f.q), st)
	}
	t.Logf("drained %v after central came back", took)
}
