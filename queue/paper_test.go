package queue

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/clock"
	bolt "go.etcd.io/bbolt"
)

// A paper visit travels like a scan (no token) and has its own counter.
func TestPaperRecordCountedApart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queue.db")
	at := time.Date(2026, 11, 22, 9, 10, 0, 0, time.UTC)
	q := openT(t, path, Options{Clock: clock.NewFake(at)})
	paper := Record{Scan: api.Scan{ID: "paper-1", Facility: "F1", Device: "D1", DeviceTime: at, CorrectedTime: at, Kind: KindPaper}}
	if added, err := q.Enqueue(paper); err != nil || !added {
		t.Fatalf("enqueue paper: %v %v", added, err)
	}
	if added, _ := q.Enqueue(paper); added {
		t.Fatal("the same paper visit queued twice")
	}
	if _, err := q.Enqueue(rec(1)); err != nil {
		t.Fatal(err)
	}
	q.Close()
	q = openT(t, path, Options{Clock: clock.NewFake(at)})
	defer q.Close()
	got, err := q.Oldest(10)
	if err != nil || len(got) != 2 {
		t.Fatalf("oldest: %+v %v", got, err)
	}
	if got[0].Kind != KindPaper || got[0].Token != "" || got[1].Kind != "" {
		t.Fatalf("kinds after reopen: %+v", got)
	}
	hs, err := q.HourlyCounts(at.Add(-time.Hour), at.Add(time.Hour))
	if err != nil || len(hs) != 1 || hs[0].Paper != 1 || hs[0].Enqueued != 1 {
		t.Fatalf("hourly counts: %+v %v", hs, err)
	}
}

// Hour counters written before the paper counter existed still read.
func TestHourCountersOfAnOlderFileStillRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queue.db")
	at := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	q := openT(t, path, Options{Clock: clock.NewFake(at)})
	q.Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	old := make([]byte, 8*5) // five counters: enqueued .. undecryptable
	old[7] = 4               // enqueued = 4
	db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketHours).Put(u64(uint64(at.Unix())), old) })
	db.Close()
	q = openT(t, path, Options{Clock: clock.NewFake(at.Add(time.Minute))})
	defer q.Close()
	if _, err := q.Enqueue(Record{Scan: api.Scan{ID: "p", Facility: "F1", Device: "D1", DeviceTime: at, CorrectedTime: at, Kind: KindPaper}}); err != nil {
		t.Fatal(err)
	}
	hs, _ := q.HourlyCounts(at, at.Add(time.Hour))
	if len(hs) != 1 || hs[0].Enqueued != 4 || hs[0].Paper != 1 {
		t.Fatalf("older counters: %+v", hs)
	}
}
