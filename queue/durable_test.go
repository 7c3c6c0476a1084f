package queue

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	bolt "go.etcd.io/bbolt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kipass/kipass/clock"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestTokensEncryptedAtRestAndKeyFile0600(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "q.db")
	q := openT(t, path, Options{Log: quiet})
	r := rec(1)
	r.Token = "KP1:SECRETTOKENTEXTXYZ"
	if _, err := q.Enqueue(r); err != nil {
		t.Fatal(err)
	}
	q.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte("SECRETTOKENTEXTXYZ")) {
		t.Fatal("token stored in clear")
	}
	fi, err := os.Stat(path + ".key")
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != 32 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	q = openT(t, path, Options{Log: quiet})
	defer q.Close()
	got, err := q.Oldest(1)
	if err != nil || len(got) != 1 || got[0].Token != r.Token {
		t.Fatalf("read back %+v %v", got, err)
	}
}

// A missing queue key never gets a fresh key made over the records sealed
// under it: the queue records nothing ("queue key missing") and reads
// nothing until the key is back, and then delivers every record.
func TestMissingKeyRecordsNothingUntilItIsBack(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "q.db")
	fc := clock.NewFake(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	q := openT(t, path, Options{Log: quiet, Clock: fc})
	for i := 0; i < 3; i++ {
		if _, err := q.Enqueue(rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	q.Close()
	key, err := os.ReadFile(path + ".key")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path + ".key"); err != nil {
		t.Fatal(err)
	}
	q = openT(t, path, Options{Log: quiet, Clock: fc})
	defer q.Close()
	if _, err := os.Stat(path + ".key"); !os.IsNotExist(err) {
		t.Fatalf("a fresh key was made over sealed records: %v", err)
	}
	if al := q.Alarms(); len(al) != 1 || !strings.Contains(al[0].Reason, "queue key missing") {
		t.Fatalf("alarms = %+v", al)
	}
	if _, err := q.Enqueue(rec(7)); !errors.Is(err, ErrKeyMissing) {
		t.Fatalf("enqueue without the key: %v", err)
	}
	if got, err := q.Oldest(10); err != nil || len(got) != 0 {
		t.Fatalf("oldest without the key = %+v %v", got, err)
	}
	if h := q.StorageHealth(); !strings.Contains(h, "queue key missing") {
		t.Fatalf("storage health = %q", h)
	}
	if st, _ := q.Stats(); st.Depth != 3 || st.Undecryptable != 0 {
		t.Fatalf("stats = %+v", st)
	}
	// The key comes back (the credential is restored): Run finds it.
	if err := os.WriteFile(path+".key", key, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for q.StorageHealth() != "" && time.Now().Before(deadline) {
		fc.Advance(time.Minute)
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if h := q.StorageHealth(); h != "" {
		t.Fatalf("storage health with the key back = %q", h)
	}
	got, err := q.Oldest(10)
	if err != nil || len(got) != 3 || got[2].Token != rec(2).Token {
		t.Fatalf("after the key is back: %+v %v", got, err)
	}
	if added, err := q.Enqueue(rec(7)); err != nil || !added {
		t.Fatalf("enqueue after the key is back: %v %v", added, err)
	}
}

func TestGroupCommitConcurrentEnqueuesAllDurable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.db")
	q := openT(t, path, Options{Log: quiet})
	const workers, each = 16, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				r := rec(i)
				r.ID = fmt.Sprintf("w%02d-%03d", w, i)
				if added, err := q.Enqueue(r); err != nil || !added {
					errs <- fmt.Errorf("%s: added=%v err=%v", r.ID, added, err)
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	q.Close()
	if _, err := q.Enqueue(rec(1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("enqueue after close: %v", err)
	}
	q = openT(t, path, Options{Log: quiet})
	defer q.Close()
	got, _ := q.Oldest(workers * each * 2)
	seen := map[string]bool{}
	for _, r := range got {
		seen[r.ID] = true
	}
	if len(got) != workers*each || len(seen) != workers*each {
		t.Fatalf("reopened queue holds %d records (%d distinct), want %d", len(got), len(seen), workers*each)
	}
}

func TestPurgeAfterRetentionWithCounts(t *testing.T) {
	fc := clock.NewFake(time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC))
	q := openT(t, filepath.Join(t.TempDir(), "q.db"), Options{Clock: fc, Log: quiet})
	defer q.Close()
	for i := 0; i < 4; i++ {
		if _, err := q.Enqueue(rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Reject([]string{"id-000"}, []string{"bad_token"}); err != nil {
		t.Fatal(err)
	}
	fc.Advance(10 * 24 * time.Hour)
	if _, err := q.Enqueue(rec(9)); err != nil {
		t.Fatal(err)
	}
	fc.Advance(18*24*time.Hour - time.Minute)
	if pc, err := q.Purge(); err != nil || pc.Total() != 0 {
		t.Fatalf("early purge = %+v %v", pc, err)
	}
	fc.Advance(2 * time.Minute)
	pc, err := q.Purge()
	if err != nil || pc != (PurgeCounts{Pending: 3, Dead: 1}) {
		t.Fatalf("purge = %+v %v", pc, err)
	}
	got, _ := q.Oldest(10)
	st, _ := q.Stats()
	if len(got) != 1 || got[0].ID != "id-009" || st.Depth != 1 || st.Dead != 0 {
		t.Fatalf("after purge: %+v %+v", got, st)
	}
	// A purged scan id is free again (the id index was cleaned).
	if added, err := q.Enqueue(rec(1)); err != nil || !added {
		t.Fatalf("re-enqueue purged id: %v %v", added, err)
	}
	hc, err := q.HourlyCounts(fc.Now().Add(-40*24*time.Hour), fc.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var enq, rej, pur int
	for _, h := range hc {
		enq, rej, pur = enq+h.Enqueued, rej+h.Rejected, pur+h.Purged
		if h.Hour.Minute() != 0 || h.Hour.Second() != 0 {
			t.Fatalf("hour not aligned: %v", h.Hour)
		}
	}
	if enq != 6 || rej != 1 || pur != 4 || len(hc) != 3 {
		t.Fatalf("hourly = %+v", hc)
	}
}

// damage writes a queue with records, closes it and applies f to the file.
func damage(t *testing.T, f func(path string, size int64)) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "q.db")
	q := openT(t, path, Options{Log: quiet})
	for i := 0; i < 300; i++ {
		if _, err := q.Enqueue(rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	q.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	f(path, fi.Size())
	return path
}

func flip(t *testing.T, path string, offsets ...int64) {
	t.Helper()
	fh, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	for _, off := range offsets {
		b := make([]byte, 1)
		if _, err := fh.ReadAt(b, off); err != nil {
			t.Fatal(err)
		}
		b[0] ^= 0xFF
		if _, err := fh.WriteAt(b, off); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDamagedFileQuarantined(t *testing.T) {
	page := int64(os.Getpagesize())
	cases := map[string]func(path string, size int64){
		"both meta pages": func(p string, _ int64) { flip(t, p, 20, page+20) },
		"truncated":       func(p string, size int64) { os.Truncate(p, size/3) },
		"garbage":         func(p string, size int64) { os.WriteFile(p, bytes.Repeat([]byte{0xA5}, int(size)), 0o600) },
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			path := damage(t, f)
			q, err := Open(path, Options{Log: quiet})
			if err != nil {
				t.Fatalf("open damaged file: %v", err)
			}
			defer q.Close()
			al := q.Alarms()
			if len(al) != 1 || al[0].QuarantinedTo == "" {
				t.Fatalf("alarms = %+v", al)
			}
			if _, err := os.Stat(al[0].QuarantinedTo); err != nil {
				t.Fatalf("quarantined file: %v", err)
			}
			if h := q.StorageHealth(); !strings.Contains(h, "quarantined") {
				t.Fatalf("storage health = %q", h)
			}
			// Salvaged at once: the records the damaged file still holds
			// are queued again (all 300 when only the meta pages broke).
			salvaged, _ := q.Stats()
			if name == "both meta pages" && salvaged.Depth != 300 {
				t.Fatalf("salvaged %d of 300", salvaged.Depth)
			}
			if added, err := q.Enqueue(rec(1000)); err != nil || !added {
				t.Fatalf("fresh queue enqueue: %v %v", added, err)
			}
			if st, _ := q.Stats(); st.Depth != salvaged.Depth+1 || len(st.Alarms) != 1 {
				t.Fatalf("stats = %+v", st)
			}
			// The queue records again: the storage alarm clears.
			if h := q.StorageHealth(); h != "" {
				t.Fatalf("storage health after a recorded scan = %q", h)
			}
		})
	}
}

// One damaged meta page: bbolt falls back to the other one, which is at
// most one transaction (here one record) older.
func TestOneMetaPageFlippedStillOpens(t *testing.T) {
	path := damage(t, func(p string, _ int64) { flip(t, p, 20) })
	q, err := Open(path, Options{Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	got, _ := q.Oldest(1000)
	st, _ := q.Stats()
	if len(got) < 299 || st.Depth != len(got) || len(q.Alarms()) != 0 {
		t.Fatalf("%d records, stats %+v", len(got), st)
	}
}

func TestMarkAttemptAndRunPurgesOnItsClock(t *testing.T) {
	fc := clock.NewFake(time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC))
	var logs bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), nil))
	q := openT(t, filepath.Join(t.TempDir(), "q.db"), Options{Clock: fc, Log: log})
	defer q.Close()
	for i := 0; i < 2; i++ {
		if _, err := q.Enqueue(rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.MarkAttempt([]string{"id-001", "id-001", "nope"}); err != nil {
		t.Fatal(err)
	}
	got, _ := q.Oldest(2)
	if got[0].Attempts != 0 || got[1].Attempts != 2 || got[1].Token != rec(1).Token {
		t.Fatalf("attempts: %+v", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx) }()
	// Move the clock past the retention in hourly steps until Run purged.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if st, _ := q.Stats(); st.Depth == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run did not purge")
		}
		fc.Advance(time.Hour)
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "pending=2") {
		t.Fatalf("purge counts not logged:\n%s", logs.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// The bucket that keeps the hour's counted scan ids is checked at Open
// like the others: a damaged page of it quarantines the file at once
// (every waiting record salvaged), instead of failing the next scan at
// the door.
func TestDamagedCountedBucketFoundAtOpen(t *testing.T) {
	path := damage(t, func(p string, _ int64) {
		db, err := bolt.Open(p, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		var root uint64
		db.View(func(tx *bolt.Tx) error {
			if b := tx.Bucket(bucketCounted); b != nil {
				root = uint64(b.Root())
			}
			return nil
		})
		db.Close()
		if root == 0 {
			t.Fatal("no counted bucket with a page of its own")
		}
		page := int64(os.Getpagesize())
		fh, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		fh.WriteAt(make([]byte, page), int64(root)*page) // its root page, zeroed
		fh.Close()
	})
	wantQuarantinedAtOpen(t, path, "a damaged counted bucket", 1)
}

// A freelist that lists a live page (one bit of damage in the freelist
// page) still opens and every key still walks, but the next writes would
// put new data over live records. bbolt's check finds it at Open, and the
// file is quarantined with every record salvaged.
func TestFreelistOverLivePageFoundAtOpen(t *testing.T) {
	path := damage(t, func(p string, _ int64) {
		db, err := bolt.Open(p, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		var live uint64
		db.View(func(tx *bolt.Tx) error {
			live = uint64(tx.Bucket(bucketPending).Root())
			return nil
		})
		db.Close()
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		page := int64(os.Getpagesize())
		// The meta page with the higher txid is the current one; after
		// the page header (16 bytes): magic, version, page size, flags,
		// root bucket (16), freelist page id, high-water page id, txid.
		var freelist, txid uint64
		for _, off := range []int64{0, page} {
			m := b[off+16:]
			if id := binary.LittleEndian.Uint64(m[48:56]); id >= txid {
				txid, freelist = id, binary.LittleEndian.Uint64(m[32:40])
			}
		}
		fl := b[int64(freelist)*page:]
		if n := binary.LittleEndian.Uint16(fl[10:12]); n == 0 || n == 0xFFFF {
			t.Fatalf("freelist page %d lists %d pages; the test needs a short, non-empty one", freelist, n)
		}
		id := make([]byte, 8)
		binary.LittleEndian.PutUint64(id, live)
		fh, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		fh.WriteAt(id, int64(freelist)*page+16) // its first free page is now a live one
		fh.Close()
	})
	wantQuarantinedAtOpen(t, path, "a freelist over a live page", 50)
}

// wantQuarantinedAtOpen opens the damaged queue made by damage (300
// records) and checks that Open found damage (one alarm, the file
// quarantined), salvaged every record, and records the next scans.
func wantQuarantinedAtOpen(t *testing.T, path, damage string, next int) {
	t.Helper()
	q := openT(t, path, Options{Log: quiet})
	defer q.Close()
	if al := q.Alarms(); len(al) != 1 || al[0].QuarantinedTo == "" {
		t.Fatalf("%s was not found at open: alarms %+v", damage, al)
	}
	if recs, err := q.Oldest(1000); err != nil || len(recs) != 300 {
		t.Fatalf("salvaged %d of 300 (%v)", len(recs), err)
	}
	for i := 0; i < next; i++ {
		if _, err := q.Enqueue(rec(1000 + i)); err != nil {
			t.Fatalf("scan %d after the quarantine: %v", i, err)
		}
	}
}
