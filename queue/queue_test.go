package queue

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/clock"
)

func rec(i int) Record {
	return Record{Scan: api.Scan{
		ID: fmt.Sprintf("id-%03d", i), Facility: "F1", Device: "D1",
		DeviceTime: time.Unix(int64(1000+i), 0).UTC(),
		Token:      fmt.Sprintf("KP1:TOKEN%03d", i), Verdict: "verified",
	}}
}

func openT(t *testing.T, path string, o Options) *Queue {
	t.Helper()
	q, err := Open(path, o)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func TestEnqueueSurvivesReopenOldestFirst(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queue.db")
	fc := clock.NewFake(time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC))
	q := openT(t, path, Options{Clock: fc})
	for i := 0; i < 5; i++ {
		added, err := q.Enqueue(rec(i))
		if err != nil || !added {
			t.Fatalf("enqueue %d: added=%v err=%v", i, added, err)
		}
		fc.Advance(time.Second)
	}
	if added, err := q.Enqueue(rec(2)); err != nil || added {
		t.Fatalf("duplicate enqueue: added=%v err=%v", added, err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}

	q = openT(t, path, Options{})
	defer q.Close()
	got, err := q.Oldest(3)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].ID != "id-000" || got[2].ID != "id-002" {
		t.Fatalf("oldest = %+v", got)
	}
	if got[1] != withEnq(rec(1), got[1].EnqueuedAt) {
		t.Fatalf("record changed on disk: %+v", got[1])
	}
	st, _ := q.Stats()
	if st.Depth != 5 || !st.OldestEnqueued.Equal(fc.Now().Add(-5*time.Second)) {
		t.Fatalf("stats = %+v", st)
	}
	if err := q.Ack([]string{"id-000", "id-001", "nope"}); err != nil {
		t.Fatal(err)
	}
	got, _ = q.Oldest(10)
	if len(got) != 3 || got[0].ID != "id-002" {
		t.Fatalf("after ack: %+v", got)
	}
	if st, _ := q.Stats(); st.Depth != 3 {
		t.Fatalf("depth after ack = %d", st.Depth)
	}
	if err := q.Reject([]string{"id-003"}, []string{"bad_token"}); err != nil {
		t.Fatal(err)
	}
	got, _ = q.Oldest(10)
	if st, _ := q.Stats(); len(got) != 2 || got[0].ID != "id-002" || got[1].ID != "id-004" || st.Depth != 2 || st.Dead != 1 {
		t.Fatalf("after reject: %+v %+v", got, st)
	}
	if dl, err := q.DeadLetters(10); err != nil || len(dl) != 1 || dl[0].ID != "id-003" || dl[0].Reason != "bad_token" {
		t.Fatalf("dead letters = %+v %v", dl, err)
	}
}

// withEnq is r as the queue stamps it at enqueue time at.
func withEnq(r Record, at time.Time) Record {
	r.EnqueuedAt, r.CorrectedTime, r.ClockBasis = at, at, BasisTrusted
	return r
}

func TestEnqueueFull(t *testing.T) {
	q := openT(t, filepath.Join(t.TempDir(), "q.db"), Options{MaxRecords: 2})
	defer q.Close()
	for i := 0; i < 2; i++ {
		if _, err := q.Enqueue(rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := q.Enqueue(rec(9)); !errors.Is(err, ErrFull) {
		t.Fatalf("err = %v, want ErrFull", err)
	}
	if err := q.Ack([]string{"id-000"}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Enqueue(rec(9)); err != nil {
		t.Fatalf("after ack: %v", err)
	}
}

func TestOpenLockedFileTimesOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.db")
	q := openT(t, path, Options{})
	defer q.Close()
	if _, err := Open(path, Options{OpenTimeout: 50 * time.Millisecond}); err == nil {
		t.Fatal("second open of a locked queue succeeded")
	}
}

func BenchmarkEnqueueDurable(b *testing.B) {
	q, err := Open(filepath.Join(b.TempDir(), "q.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := rec(i)
		r.ID = fmt.Sprintf("bench-%d", i)
		if _, err := q.Enqueue(r); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "scans/s")
}

func TestStorageHealthNearlyFull(t *testing.T) {
	q := openT(t, filepath.Join(t.TempDir(), "q.db"), Options{MaxRecords: 10})
	defer q.Close()
	for i := 0; i < 8; i++ {
		q.Enqueue(rec(i))
	}
	if h := q.StorageHealth(); h != "" {
		t.Fatalf("health at 80%% = %q", h)
	}
	q.Enqueue(rec(8))
	if h := q.StorageHealth(); h == "" {
		t.Fatal("no warning at 90%")
	}
}
