package uplink

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/kipass/kipass/central"
	"github.com/kipass/kipass/central/client"
	"github.com/kipass/kipass/clock"
)

// Central's answer to a batch carries its clock: the client passes it on,
// stamped with the sender's clock, once per answer.
func TestBatchAnswerReportsCentralClock(t *testing.T) {
	f := newFixture(t)
	f.enqueue(t, 2, "F1", "D1")
	centralNow := time.Date(2026, 11, 22, 1, 30, 0, 0, time.UTC)
	c, err := central.Open(filepath.Join(t.TempDir(), "central.db"), central.Options{Keys: f.keys, Clock: clock.NewFake(centralNow)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv := httptest.NewServer(c.Handler())
	defer srv.Close()

	type sample struct{ sent, received, server time.Time }
	var got []sample
	cl, err := client.New(client.Options{URL: srv.URL, OnServerTime: func(sent, received, server time.Time) {
		got = append(got, sample{sent, received, server})
	}})
	if err != nil {
		t.Fatal(err)
	}
	s := New(f.q, Options{Central: cl})
	if n, err := s.SendOnce(context.Background()); err != nil || n != 2 {
		t.Fatalf("send: %d %v", n, err)
	}
	if len(got) != 1 {
		t.Fatalf("hook called %d times, want once per answer", len(got))
	}
	if !got[0].server.Equal(centralNow) || got[0].received.Before(got[0].sent) {
		t.Fatalf("sample = %+v", got[0])
	}
	// An empty queue sends nothing and learns nothing.
	if n, err := s.SendOnce(context.Background()); err != nil || n != 0 || len(got) != 1 {
		t.Fatalf("empty queue: %d %v, %d samples", n, err, len(got))
	}
}
