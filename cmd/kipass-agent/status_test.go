package main

import (
	"bytes"
	"context"
	"net"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kipass/kipass/central"
	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/central/client"
	"github.com/kipass/kipass/queue"
	"github.com/kipass/kipass/status"
	"github.com/kipass/kipass/token"
	"github.com/kipass/kipass/uplink"
)

// queueSource reports a real queue as the agent's state.
type queueSource struct{ q *queue.Queue }

func (s queueSource) Snapshot() status.Snapshot {
	st, _ := s.q.Stats()
	return status.Snapshot{At: time.Now(), Facility: "FAC-C", Device: "gate-c", Scans: map[string]int64{},
		Queue: status.Queue{Depth: st.Depth, OldestEnqueued: st.OldestEnqueued}, Camera: status.Camera{State: "ok"}}
}

// lazySender starts the real uplink at the first flush, so that the
// queue is full until the CLI asks for it to be sent.
type lazySender struct {
	ctx  context.Context
	s    *uplink.Sender
	once sync.Once
	done chan error
}

func (l *lazySender) Flush() {
	l.once.Do(func() { go func() { l.done <- l.s.Run(l.ctx) }() })
	l.s.Kick()
}

// countList is hourly counts as test data.
type countList []status.HourCount

func (c countList) HourlyCounts(from, to time.Time) ([]status.HourCount, error) { return c, nil }

func TestStatusStatsFlushAgainstRealQueue(t *testing.T) {
	const n = 30
	dir := t.TempDir()
	q, err := queue.Open(filepath.Join(dir, "queue.db"), queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	key, _ := token.GenerateKey("dev")
	var toks []string
	for i := 0; i < n; i++ {
		tok, err := token.Signer{Key: key}.Issue(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, tok)
		now := time.Now()
		if _, err := q.Enqueue(queue.Record{Scan: api.Scan{ID: token.ScanID("gate-c", tok), Facility: "FAC-C", Device: "gate-c",
			DeviceTime: now, CorrectedTime: now, Token: tok, Verdict: "verified"}}); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := central.Open(filepath.Join(dir, "central.db"), central.Options{Keys: token.NewKeySet(key.Public())})
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	hs := httptest.NewServer(cs.Handler())
	defer hs.Close()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := client.New(client.Options{URL: hs.URL})
	if err != nil {
		t.Fatal(err)
	}
	ls := &lazySender{ctx: ctx, s: uplink.New(q, uplink.Options{Central: cl, BatchSize: 4}), done: make(chan error, 1)}
	today := time.Now().In(status.KST).Truncate(time.Hour)
	srv, err := status.New(status.Options{Source: queueSource{q}, Drainer: ls,
		Counter: countList{{Hour: today, Device: "gate-c", Count: 17}, {Hour: today, Device: "gate-d", Count: 5}}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ctx, ln)
	addr := ln.Addr().String()

	var out, errb bytes.Buffer
	if code := run([]string{"status", "--addr", addr}, &out, &errb); code != 0 {
		t.Fatalf("status: exit %d\n%s%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "Scanning (scanning)") || !strings.Contains(out.String(), "30 waiting") {
		t.Fatalf("status output:\n%s", out.String())
	}

	out.Reset()
	if code := run([]string{"stats", "--addr", addr, "--days", "3"}, &out, &errb); code != 0 {
		t.Fatalf("stats: exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"Visitors today", ": 22", "gate-c", "gate-d", "Visitors by day"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("stats output lacks %q:\n%s", want, out.String())
		}
	}

	out.Reset()
	if code := run([]string{"flush", "--addr", addr, "--poll", "20ms"}, &out, &errb); code != 0 {
		t.Fatalf("flush: exit %d: %s\n%s", code, errb.String(), out.String())
	}
	if !strings.Contains(out.String(), "[##############################] 30/30 sent") {
		t.Fatalf("flush output:\n%s", out.String())
	}
	if st, _ := q.Stats(); st.Depth != 0 {
		t.Fatalf("queue depth after flush = %d", st.Depth)
	}
	if c, _ := cs.ScanCount(); c != n {
		t.Fatalf("central holds %d scans, want %d", c, n)
	}
	for _, tok := range toks {
		if strings.Contains(out.String(), tok) || strings.Contains(out.String(), token.ScanID("gate-c", tok)) {
			t.Fatal("a token or scan id was printed")
		}
	}
	cancel()
	<-ls.done
}

func TestStatusUnreachableAndHelp(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var out, errb bytes.Buffer
	if code := run([]string{"status", "--addr", addr}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "cannot reach the agent") {
		t.Fatalf("unreachable: exit %d, %s", code, errb.String())
	}
	for _, cmd := range []string{"status", "stats", "flush"} {
		errb.Reset()
		if code := run([]string{cmd, "-h"}, &out, &errb); code != 0 ||
			!strings.Contains(errb.String(), "Usage:\n\n\tkipass-agent "+cmd) || !strings.Contains(errb.String(), "-addr address") {
			t.Errorf("%s -h: exit %d\n%s", cmd, code, errb.String())
		}
	}
}

func TestProgressBar(t *testing.T) {
	for _, c := range []struct {
		done, total int
		want        string
	}{
		{0, 10, "[----------] 0/10 sent"}, {5, 10, "[#####-----] 5/10 sent"}, {10, 10, "[##########] 10/10 sent"}, {0, 0, "[##########] 0/0 sent"},
	} {
		if got := progress(c.done, c.total, 10); got != c.want {
			t.Errorf("progress(%d, %d) = %q, want %q", c.done, c.total, got, c.want)
		}
	}
}
