package queue

import (
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// stepTime is a device whose clock can be stepped: the corrected time
// (trusted or not) and the boot clock are set by the test.
type stepTime struct {
	mu      sync.Mutex
	now     time.Time
	trusted bool
	boot    string
	since   time.Duration
}

func (s *stepTime) Now() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now, s.trusted
}

func (s *stepTime) Boot() (string, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.boot, s.since
}

// pass moves true time by d: the boot clock runs, and the corrected time
// too (a trusted clock runs on the monotonic clock; an untrusted one is
// the device clock, which also runs).
func (s *stepTime) pass(d time.Duration) {
	s.mu.Lock()
	s.now, s.since = s.now.Add(d), s.since+d
	s.mu.Unlock()
}

func (s *stepTime) set(now time.Time, trusted bool) {
	s.mu.Lock()
	s.now, s.trusted = now, trusted
	s.mu.Unlock()
}

func ids(t *testing.T, q *Queue) map[string]Record {
	t.Helper()
	rs, err := q.Oldest(1000)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]Record{}
	for _, r := range rs {
		m[r.ID] = r
	}
	return m
}

func TestRTCResetRecordsRebasedOnBootClockThenPurgedAtTrue28Days(t *testing.T) {
	truth := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	st := &stepTime{now: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), boot: "boot-1", since: time.Minute}
	q := openT(t, filepath.Join(t.TempDir(), "q.db"), Options{Time: st, Log: discardLog()})
	defer q.Close()
	if _, err := q.Enqueue(rec(0)); err != nil {
		t.Fatal(err)
	}
	st.pass(10 * time.Minute)
	truth = truth.Add(10 * time.Minute)
	// A purge under the untrusted clock ages nothing.
	if pc, err := q.Purge(); err != nil || pc.Total() != 0 {
		t.Fatalf("untrusted purge: %+v %v", pc, err)
	}
	// NTP steps the clock and central confirms it: trusted now.
	st.set(truth, true)
	got := ids(t, q)["id-000"]
	if got.ClockBasis != BasisMonotonic || !got.CorrectedTime.Equal(truth.Add(-10*time.Minute)) {
		t.Fatalf("not re-based on the boot clock: %s %s", got.ClockBasis, got.CorrectedTime)
	}
	if n, err := q.Rebase(); err != nil || n != 1 {
		t.Fatalf("rebase = %d, %v", n, err)
	}
	// 28 days minus a minute after the true scan time: kept.
	st.pass(DefaultRetention - 10*time.Minute - time.Minute)
	if pc, _ := q.Purge(); pc.Total() != 0 {
		t.Fatalf("destroyed before its true 28 days: %+v", pc)
	}
	st.pass(2 * time.Minute)
	if pc, _ := q.Purge(); pc.Pending != 1 {
		t.Fatalf("kept past its true 28 days: %+v", pc)
	}
}

func TestFutureStampDoesNotStopThePurgeWalk(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	st := &stepTime{now: now.Add(10 * 365 * 24 * time.Hour), trusted: true, boot: "b"}
	q := openT(t, filepath.Join(t.TempDir(), "q.db"), Options{Time: st, Log: discardLog()})
	defer q.Close()
	q.Enqueue(rec(0)) // stamped ten years ahead, first in the queue
	st.set(now, true)
	q.Enqueue(rec(1))
	st.pass(DefaultRetention + time.Minute)
	pc, err := q.Purge()
	if err != nil || pc.Pending != 1 {
		t.Fatalf("purge = %+v %v", pc, err)
	}
	if m := ids(t, q); len(m) != 1 || m["id-000"].ID == "" {
		t.Fatalf("left: %v", m)
	}
}

func TestUntrustedRecordOfEarlierBootRebasedFromIssuedAt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.db")
	issued := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	st := &stepTime{now: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), boot: "boot-1"}
	o := Options{Time: st, Log: discardLog(), IssuedAt: func(string) (time.Time, bool) { return issued, true }}
	q := openT(t, path, o)
	q.Enqueue(rec(0))
	q.Close()
	// Next boot: the boot clock restarted, central answers.
	st.mu.Lock()
	st.boot, st.since, st.now, st.trusted = "boot-2", time.Second, issued.Add(3*24*time.Hour), true
	st.mu.Unlock()
	q = openT(t, path, o)
	defer q.Close()
	if n, err := q.Rebase(); err != nil || n != 1 {
		t.Fatalf("rebase = %d %v", n, err)
	}
	got := ids(t, q)["id-000"]
	if got.ClockBasis != BasisIssuedAt || !got.CorrectedTime.Equal(issued) {
		t.Fatalf("got %s %s", got.ClockBasis, got.CorrectedTime)
	}
	st.pass(DefaultRetention - 3*24*time.Hour + time.Minute)
	if pc, _ := q.Purge(); pc.Pending != 1 {
		t.Fatalf("not purged at the token's 28 days: %+v", pc)
	}
}

func TestDeadLetterAgedByTheScansOwnTime(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	st := &stepTime{now: now, trusted: true, boot: "b"}
	q := openT(t, filepath.Join(t.TempDir(), "q.db"), Options{Time: st, Log: discardLog()})
	defer q.Close()
	q.Enqueue(rec(0))
	st.pass(20 * 24 * time.Hour)
	if err := q.Reject([]string{"id-000"}, []string{"bad"}); err != nil {
		t.Fatal(err)
	}
	st.pass(8*24*time.Hour + time.Minute)
	if pc, _ := q.Purge(); pc.Dead != 1 {
		t.Fatalf("dead letter kept past the scan's 28 days: %+v", pc)
	}
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
