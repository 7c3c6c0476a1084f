package queue

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kipass/kipass/clock"
)

// moveAside renames the queue file at path and its record keys as a
// quarantine leaves them, and returns the quarantined file's path.
func moveAside(t *testing.T, path string) string {
	t.Helper()
	bad := path + ".corrupt-20260302T090000.000Z"
	if err := os.Rename(path, bad); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".keys", bad+".keys"); err != nil {
		t.Fatal(err)
	}
	return bad
}

// A quarantined file is salvaged at once: its readable records are queued
// again with their own times; the file goes 28 days after it was seen.
func TestQuarantinedFileSalvagedAndDestroyedAfter28Days(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "queue.db")
	fc := clock.NewFake(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	q := openT(t, path, Options{Clock: fc, Log: quiet})
	for i := 0; i < 40; i++ {
		q.Enqueue(rec(i))
	}
	want, _ := q.Oldest(100)
	q.Close()
	// The file as a quarantine leaves it, and a fresh queue beside it.
	bad := moveAside(t, path)
	q = openT(t, path, Options{Clock: fc, Log: quiet})
	defer q.Close()
	q.salvageFrom(bad)
	got, err := q.Oldest(100)
	if err != nil || len(got) != 40 {
		t.Fatalf("salvaged %d of 40 (%v)", len(got), err)
	}
	for i := range got {
		if got[i].Token != want[i].Token || !got[i].CorrectedTime.Equal(want[i].CorrectedTime) || got[i].ClockBasis != want[i].ClockBasis {
			t.Fatalf("record %d changed: %+v, want %+v", i, got[i], want[i])
		}
	}
	fc.Advance(time.Hour)
	if pc, _ := q.Purge(); pc.QuarantinedFiles != 0 {
		t.Fatalf("quarantined file destroyed at once: %+v", pc)
	}
	fc.Advance(DefaultRetention)
	pc, err := q.Purge()
	if err != nil || pc.QuarantinedFiles != 1 || pc.Pending != 40 {
		t.Fatalf("purge = %+v %v", pc, err)
	}
	for _, f := range []string{bad, bad + ".keys"} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Fatalf("%s still there: %v", f, err)
		}
	}
}

// Dead letters go back to the queue with their own times when the
// installer asks; the counts say where every record is.
func TestResendDeadLettersAndCounts(t *testing.T) {
	fc := clock.NewFake(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	q := openT(t, filepath.Join(t.TempDir(), "q.db"), Options{Clock: fc, Log: quiet})
	defer q.Close()
	for i := 0; i < 5; i++ {
		q.Enqueue(rec(i))
	}
	before, _ := q.Oldest(10)
	if err := q.Reject([]string{"id-001", "id-003"}, []string{"unknown_device", "unknown_device"}); err != nil {
		t.Fatal(err)
	}
	c, err := q.Counts()
	if err != nil || c.Waiting != 3 || c.Dead != 2 || c.Undecryptable != 0 || c.QuarantinedFiles != 0 {
		t.Fatalf("counts = %+v %v", c, err)
	}
	n, err := q.ResendDead()
	if err != nil || n != 2 {
		t.Fatalf("resent %d, %v", n, err)
	}
	after, _ := q.Oldest(10)
	if c, _ := q.Counts(); c.Waiting != 5 || c.Dead != 0 || len(after) != 5 {
		t.Fatalf("after resend: %+v, %d readable", c, len(after))
	}
	for _, r := range after {
		if r.ID == "id-003" && (r.Token != before[3].Token || !r.CorrectedTime.Equal(before[3].CorrectedTime)) {
			t.Fatalf("resent record changed: %+v", r)
		}
	}
}

// The hourly counts survive a quarantine: they come back from their copy
// beside the queue even when the damaged file cannot be opened at all.
func TestHourlyCountsSurviveQuarantine(t *testing.T) {
	now := time.Now()
	path := damage(t, func(p string, _ int64) {
		page := int64(os.Getpagesize())
		f, _ := os.OpenFile(p, os.O_RDWR, 0)
		defer f.Close()
		for _, off := range []int64{20, page + 20} {
			f.WriteAt([]byte{0xFF, 0xEE, 0xDD}, off)
		}
	})
	q := openT(t, path, Options{Log: quiet})
	defer q.Close()
	if al := q.Alarms(); len(al) != 1 || al[0].QuarantinedTo == "" {
		t.Fatalf("not quarantined: %+v", al)
	}
	hc, err := q.HourlyCounts(now.Add(-time.Hour), now.Add(time.Hour))
	sum := 0
	for _, h := range hc {
		sum += h.Enqueued
	}
	if err != nil || sum != 300 {
		t.Fatalf("hourly enqueued after quarantine = %d (%+v, %v), want 300", sum, hc, err)
	}
}

// Dead letters in a quarantined file come back as dead letters, with
// their reasons, and can still be resent with their tokens; a dead letter
// is never sent again unasked.
func TestQuarantinedDeadLettersSalvaged(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "queue.db")
	fc := clock.NewFake(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	q := openT(t, path, Options{Clock: fc, Log: quiet})
	for i := 0; i < 10; i++ {
		q.Enqueue(rec(i))
	}
	want, _ := q.Oldest(100)
	if err := q.Reject([]string{"id-002", "id-007"}, []string{"time_mismatch", "unknown_device"}); err != nil {
		t.Fatal(err)
	}
	q.Close()
	bad := moveAside(t, path)
	q = openT(t, path, Options{Clock: fc, Log: quiet})
	defer q.Close()
	q.salvageFrom(bad)
	c, err := q.Counts()
	if err != nil || c.Waiting != 8 || c.Dead != 2 {
		t.Fatalf("after salvage: %+v %v, want 8 waiting and 2 dead letters", c, err)
	}
	pending, _ := q.Oldest(100)
	for _, r := range pending {
		if r.ID == "id-002" || r.ID == "id-007" {
			t.Fatalf("dead letter %s salvaged as pending", r.ID)
		}
	}
	q.salvageFrom(bad) // a second salvage adds nothing
	if c2, _ := q.Counts(); c2.Waiting != 8 || c2.Dead != 2 {
		t.Fatalf("second salvage: %+v", c2)
	}
	if n, err := q.ResendDead(); err != nil || n != 2 {
		t.Fatalf("resent %d, %v", n, err)
	}
	all, _ := q.Oldest(100)
	byID := map[string]string{}
	for _, r := range all {
		byID[r.ID] = r.Token
	}
	for _, r := range want {
		if byID[r.ID] != r.Token {
			t.Fatalf("record %s after salvage and resend: token changed or missing", r.ID)
		}
	}
}
