package main

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/queue"
	"github.com/kipass/kipass/status"
	"github.com/kipass/kipass/token"
)

// queueView is a real queue as the status page's QueueAdmin.
type queueView struct{ q *queue.Queue }

func (v queueView) QueueCounts() (status.QueueCounts, error) { return v.q.Counts() }

func (v queueView) ResendDead() (int, error) { return v.q.ResendDead() }

func TestQueueCommandCountsAndResendsDeadLetters(t *testing.T) {
	q, err := queue.Open(filepath.Join(t.TempDir(), "queue.db"), queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	key, _ := token.GenerateKey("dev")
	var toks, ids []string
	for i := 0; i < 5; i++ {
		tok, _ := token.Signer{Key: key}.Issue(time.Now())
		id := token.ScanID("gate-q", tok)
		if _, err := q.Enqueue(queue.Record{Scan: api.Scan{ID: id, Facility: "F", Device: "gate-q", Token: tok, Verdict: "verified"}}); err != nil {
			t.Fatal(err)
		}
		toks, ids = append(toks, tok), append(ids, id)
	}
	if err := q.Reject(ids[:2], []string{"unknown_device", "unknown_device"}); err != nil {
		t.Fatal(err)
	}
	srv, err := status.New(status.Options{Source: queueSource{q}, Queue: queueView{q}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go srv.Serve(ctx, ln)
	addr := ln.Addr().String()

	var out, errb bytes.Buffer
	if code := run([]string{"queue", "--addr", addr}, &out, &errb); code != 0 {
		t.Fatalf("queue: exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"waiting for central:   3", "dead letters:          2", "undecryptable:         0", "quarantined files:     0"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("queue output lacks %q:\n%s", want, out.String())
		}
	}
	if code := run([]string{"queue", "--addr", addr, "--resend-dead"}, &out, &errb); code != 0 {
		t.Fatalf("queue --resend-dead: exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "dead letters queued again: 2") || !strings.Contains(out.String(), "waiting for central:   5") {
		t.Fatalf("after resend:\n%s", out.String())
	}
	for i, tok := range toks {
		if strings.Contains(out.String(), tok) || strings.Contains(out.String(), ids[i]) {
			t.Fatal("a token or scan id was printed")
		}
	}
}
