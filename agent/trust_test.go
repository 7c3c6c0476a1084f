package agent

import (
	"bytes"
	"context"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kipass/kipass/audio"
	"github.com/kipass/kipass/central"
	"github.com/kipass/kipass/central/client"
	"github.com/kipass/kipass/clock"
	"github.com/kipass/kipass/logging"
	"github.com/kipass/kipass/queue"
	"github.com/kipass/kipass/token"
	"github.com/kipass/kipass/trust"
)

// trustRig is an agent over a real queue file, the real trust verifier and
// a silent speaker, on a fake device clock.
type trustRig struct {
	a     *Agent
	q     *queue.Queue
	key   token.PrivateKey
	dev   *clock.Fake
	clk   *trust.Clock
	mu    sync.Mutex
	scans []Scan
}

func newTrustRig(t *testing.T, device time.Time, learn func(*trust.Clock, *clock.Fake)) *trustRig {
	t.Helper()
	r := &trustRig{dev: clock.NewFake(device)}
	var err error
	if r.key, err = token.GenerateKey("dev"); err != nil {
		t.Fatal(err)
	}
	log := logging.New(&lockedWriter{w: new(bytes.Buffer)}, "debug")
	r.clk = trust.OpenClock(trust.ClockOptions{Device: r.dev, Log: log})
	if learn != nil {
		learn(r.clk, r.dev)
	}
	// The queue stamps and ages on the same trust clock, as in Open.
	if r.q, err = queue.Open(filepath.Join(t.TempDir(), "queue.db"), queue.Options{Clock: r.dev, Time: queueTime{clk: r.clk}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.q.Close() })
	v, err := trust.NewVerifier(trust.VerifierOptions{Keys: token.NewKeySet(r.key.Public()), Skew: 2 * time.Second, Clock: r.clk, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	spk, err := audio.Open(audio.Options{Device: "none"}, log)
	if err != nil {
		t.Fatal(err)
	}
	r.a, err = New(Parts{Verifier: v, Store: r.q, Speaker: spk}, Options{
		Facility: "F1", Device: "D1", DedupWindow: 5 * time.Second, Clock: r.dev, Time: r.clk, Log: log,
		OnScan: func(s Scan) { r.mu.Lock(); r.scans = append(r.scans, s); r.mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *trustRig) scan(text string) (Scan, bool) {
	n := len(r.scans)
	r.a.HandleText(context.Background(), text, r.dev.Now())
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.scans) == n {
		return Scan{}, false
	}
	return r.scans[len(r.scans)-1], true
}

func (r *trustRig) records(t *testing.T) []queue.Record {
	t.Helper()
	recs, err := r.q.Oldest(100)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

var centralNow = time.Date(2026, 11, 22, 1, 30, 0, 0, time.UTC)

// TestDuplicateConfirmedAgainRecordedOnce: the same token at the same device
// is silent within the suppression window, confirmed again after it while
// still valid, recorded once, and expired after its validity.
func TestDuplicateConfirmedAgainRecordedOnce(t *testing.T) {
	r := newTrustRig(t, centralNow, func(c *trust.Clock, d *clock.Fake) { c.Learn(d.Now(), d.Now(), centralNow) })
	tok, _ := token.Signer{Key: r.key}.Issue(centralNow)
	steps := []struct {
		after    time.Duration // since the first scan
		heard    bool          // a verdict is spoken
		verdict  token.Verdict
		recorded bool
	}{
		{0, true, token.Verified, true},
		{time.Second, false, "", false},                // held in front of the camera: suppressed
		{4 * time.Second, false, "", false},            // still within the 5 s window of the last sighting
		{10 * time.Second, true, token.Verified, true}, // shown again: confirmed again
		{16 * time.Second, true, token.Verified, true}, // validity 15 s + skew 2 s
		{22 * time.Second, true, token.Expired, false}, // past validity + skew
		{22*time.Second + time.Millisecond, false, "", false},
	}
	for _, s := range steps {
		r.dev.Set(centralNow.Add(s.after))
		sc, heard := r.scan(tok)
		if heard != s.heard || sc.Verdict != s.verdict || sc.Recorded != s.recorded {
			t.Fatalf("at +%v: heard %v, scan %+v; want %v %s recorded=%v", s.after, heard, sc, s.heard, s.verdict, s.recorded)
		}
	}
	recs := r.records(t)
	if len(recs) != 1 || recs[0].ID != token.ScanID("D1", tok) {
		t.Fatalf("records = %+v, want one with the scan id of D1 and the token", recs)
	}
	if st := r.a.Stats(); st.Verified != 3 || st.Enqueued != 1 || st.Rejected != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

// TestWrongDeviceClock: a device clock 10 minutes ahead is judged on the
// offset learned from a real central, the alarm is raised, and the record
// keeps both times. Without a learned offset the visitor is recorded as
// pending, not rejected.
func TestWrongDeviceClock(t *testing.T) {
	k, _ := token.GenerateKey("dev")
	c, err := central.Open(filepath.Join(t.TempDir(), "central.db"), central.Options{Clock: clock.NewFake(centralNow), Keys: token.NewKeySet(k.Public())})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv := httptest.NewServer(c.Handler())
	defer srv.Close()

	ahead := centralNow.Add(10 * time.Minute)
	r := newTrustRig(t, ahead, func(clk *trust.Clock, dev *clock.Fake) {
		cl, err := client.New(client.Options{URL: srv.URL, Clock: dev, OnServerTime: func(s, rc, sv time.Time) { clk.Learn(s, rc, sv) }})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := (&trust.Client{Central: cl}).Time(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
	if st := r.clk.Status(); !st.Alarm || st.Offset != -10*time.Minute {
		t.Fatalf("clock status = %+v", st)
	}
	r.dev.Advance(3 * time.Second)
	tok, _ := token.Signer{Key: r.key}.Issue(centralNow)
	sc, _ := r.scan(tok)
	if sc.Verdict != token.Verified || sc.Prompt != audio.Verified {
		t.Fatalf("scan = %+v", sc)
	}
	recs := r.records(t)
	if len(recs) != 1 || !recs[0].DeviceTime.Equal(ahead.Add(3*time.Second)) || !recs[0].CorrectedTime.Equal(centralNow.Add(3*time.Second)) {
		t.Fatalf("record times: device %v corrected %v", recs[0].DeviceTime, recs[0].CorrectedTime)
	}

	// A fresh device with the same wrong clock and nothing learned yet.
	u := newTrustRig(t, ahead, nil)
	tok, _ = token.Signer{Key: u.key}.Issue(centralNow)
	sc, _ = u.scan(tok)
	if sc.Verdict != token.Pending || !sc.Recorded || sc.Prompt != audio.Pending || sc.Reason != trust.ReasonClockUnsure {
		t.Fatalf("unsynced scan = %+v", sc)
	}
	if st := u.a.Stats(); st.Pending != 1 || st.Verified != 1 {
		t.Fatalf("stats = %+v", st)
	}
}
