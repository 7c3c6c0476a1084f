package queue

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kipass/kipass/clock"
)

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
	bad := path + ".corrupt-20260302T090000.000Z"
	if err := os.Rename(path, bad); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".keys", bad+".keys"); err != nil {
		t.Fatal(err)
	}
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
