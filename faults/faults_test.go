package faults

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kipass/kipass/clock"
	"github.com/kipass/kipass/queue"
)

// The checks must be able to fail: a missing confirmed scan is lost, a
// token stored twice is a duplicate.
func TestLedgerCheckDetectsLossAndDuplicates(t *testing.T) {
	l := NewLedger()
	for _, id := range []string{"a", "b", "c", "d"} {
		l.Confirm(id)
	}
	var r Result
	l.Check(&r, Stored{IDs: map[string]bool{"a": true, "b": true, "x": true}, Duplicates: 1}, map[string]bool{"c": true})
	if r.Confirmed != 4 || r.Delivered != 2 || r.Dead != 1 || r.Lost != 1 || r.Duplicates != 1 || r.OK() {
		t.Fatalf("result = %+v", r)
	}
	if !strings.HasPrefix(r.Line(), "FAIL") || !strings.Contains(r.Line(), "unconfirmed_delivered=1") {
		t.Fatalf("line = %s", r.Line())
	}
}

func TestFaultHandlerFaultsThenPasses(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(299) })
	fh := NewFaultHandler(next, Fault{Status: 429, RetryAfter: "3", Times: 2})
	srv := httptest.NewServer(fh)
	defer srv.Close()
	var codes []int
	for i := 0; i < 3; i++ {
		resp, err := http.Post(srv.URL+"/v1/scans", "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if i < 2 && resp.Header.Get("Retry-After") != "3" {
			t.Fatalf("answer %d without Retry-After", i)
		}
		codes = append(codes, resp.StatusCode)
	}
	if f, p := fh.Counts(); codes[0] != 429 || codes[1] != 429 || codes[2] != 299 || f != 2 || p != 1 {
		t.Fatalf("codes %v counts %d %d", codes, f, p)
	}
}

// A small end-to-end run of one central-answer scenario: real queue,
// uplink and central, central answering 500 three times.
func TestCentral500ScenarioDeliversAll(t *testing.T) {
	is, err := NewIssuer()
	if err != nil {
		t.Fatal(err)
	}
	sc := Scale{Short: true, Dir: t.TempDir()}
	r := sc.runLink(context.Background(), is, linkCase{name: "t500", prefill: 40, window: 100 * time.Millisecond,
		within: time.Minute, fault: &Fault{Status: 500, Times: 3}})
	if !r.OK() || r.Confirmed != 40 || r.Delivered != 40 {
		t.Fatalf("%s", r.Line())
	}
}

// The clock checks must be able to fail: the same RTC reset on a queue
// that ages records by the raw device clock loses or overkeeps scans.
func TestClockScenarioFailsOnTheRawDeviceClock(t *testing.T) {
	is, err := NewIssuer()
	if err != nil {
		t.Fatal(err)
	}
	sc := Scale{Short: true, Dir: t.TempDir()}
	script := []clockStep{
		{scans: 3, span: 2 * 24 * time.Hour, action: func(d *simDevice, reopen func()) {
			d.reboot(time.Hour)
			d.setWall(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))
			reopen()
		}},
		{scans: 3, span: 3 * time.Hour, action: func(d *simDevice, _ func()) { d.setWall(d.now()); d.sync() }},
	}
	raw := sc.clockRunOn(context.Background(), is, "raw", script, true)
	if raw.OK() || (raw.Lost == 0 && raw.Err == nil) {
		t.Fatalf("raw device clock passed: %s", raw.Line())
	}
	good := sc.clockRunOn(context.Background(), is, "trusted", script, false)
	if !good.OK() || good.Confirmed != 6 || !strings.Contains(good.Line(), "overdue=0") {
		t.Fatalf("trusted clock: %s", good.Line())
	}
}

// The attacker reads freed pages: with a copy of the record keys taken
// before delivery, it opens delivered tokens from queue.db's freed pages;
// with the keys the device holds after delivery and after the purge, it
// opens none.
func TestAttackerRecoversNothingDeliveredOrPurged(t *testing.T) {
	is, err := NewIssuer()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	fc := clock.NewFake(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	q, err := queue.Open(filepath.Join(dir, "queue.db"), queue.Options{Clock: fc, Log: discard, Reserve: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	var toks, ids []string
	for i := 0; i < 30; i++ {
		r, _ := is.Record("F", "D", fc.Now())
		if _, err := q.Enqueue(r); err != nil {
			t.Fatal(err)
		}
		toks, ids = append(toks, r.Token), append(ids, r.ID)
	}
	old, err := os.ReadFile(filepath.Join(dir, "queue.db.keys"))
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Ack(ids[:20]); err != nil {
		t.Fatal(err)
	}
	got, err := Attack(dir, toks[:20])
	if err != nil || len(got) != 0 {
		t.Fatalf("recovered %d delivered tokens (%v)", len(got), err)
	}
	if got, _ := Attack(dir, toks[20:]); len(got) != 10 {
		t.Fatalf("the attack reads only %d of 10 waiting tokens", len(got))
	}
	// Control: an old copy of the key file (which the device never keeps)
	// opens the delivered tokens still lying in freed pages.
	stolen := filepath.Join(t.TempDir(), "copy")
	os.MkdirAll(stolen, 0o700)
	copyFile(filepath.Join(stolen, "queue.db"), filepath.Join(dir, "queue.db"))
	copyFile(filepath.Join(stolen, "queue.db.key"), filepath.Join(dir, "queue.db.key"))
	os.WriteFile(filepath.Join(stolen, "old.keys"), old, 0o600)
	if got, _ := Attack(stolen, toks[:20]); len(got) == 0 {
		t.Fatal("no delivered token in freed pages even with the old keys: the attack proves nothing")
	}
	fc.Advance(queue.DefaultRetention + time.Minute)
	if pc, err := q.Purge(); err != nil || pc.Pending != 10 {
		t.Fatalf("purge %+v %v", pc, err)
	}
	if got, _ := Attack(dir, toks); len(got) != 0 {
		t.Fatalf("recovered %d tokens after the purge", len(got))
	}
}
