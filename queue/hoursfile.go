package queue

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The hourly counts are counts, not records, so a damaged queue file must
// not take them along: they are copied to PATH.hours (JSON, written
// atomically) at most every hoursEvery while they change, and at Close. A
// quarantine restores them into the fresh file from that copy and from the
// damaged file's own counters when those can still be read, taking the
// larger count of each hour.

// hoursEvery bounds how often the copy is written (flash wear).
const hoursEvery = 10 * time.Minute

func (q *Queue) hoursPath() string { return q.path + ".hours" }

// readHours returns the counters of the hours bucket of tx.
func readHours(tx *bolt.Tx) map[int64][nFields]int {
	out := map[int64][nFields]int{}
	b := tx.Bucket(bucketHours)
	if b == nil {
		return out
	}
	b.ForEach(func(k, v []byte) error {
		if len(k) != 8 || len(v) > 8*nFields || len(v)%8 != 0 {
			return nil
		}
		var c [nFields]int
		for i := range c[:len(v)/8] { // an hour written before a counter was added has fewer
			c[i] = int(binary.BigEndian.Uint64(v[8*i:]))
		}
		out[int64(binary.BigEndian.Uint64(k))] = c
		return nil
	})
	return out
}

// saveHours writes the copy of the hourly counts.
func (q *Queue) saveHours() error {
	var hs map[int64][nFields]int
	if err := q.view(func(tx *bolt.Tx) error { hs = readHours(tx); return nil }); err != nil {
		return err
	}
	b, err := json.Marshal(hs)
	if err != nil {
		return err
	}
	if err := writeSynced(q.hoursPath(), b); err != nil {
		return fmt.Errorf("hourly counts copy: %w", err)
	}
	return nil
}

// restoreHours puts the copy's counts, and those of the quarantined file
// at damaged when they can be read, into the fresh file.
func (q *Queue) restoreHours(damaged string) {
	hs := map[int64][nFields]int{}
	if b, err := os.ReadFile(q.hoursPath()); err == nil {
		json.Unmarshal(b, &hs)
	}
	func() {
		defer func() { _ = recover() }()
		defer setPanicOnFault()()
		db, err := bolt.Open(damaged, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
		if err != nil {
			return
		}
		defer db.Close()
		db.View(func(tx *bolt.Tx) error {
			for hr, c := range readHours(tx) {
				m := hs[hr]
				for i := range m {
					m[i] = max(m[i], c[i])
				}
				hs[hr] = m
			}
			return nil
		})
	}()
	if len(hs) == 0 {
		return
	}
	err := q.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketHours)
		for hr, c := range hs {
			v := make([]byte, 8*nFields)
			if old := b.Get(u64(uint64(hr))); len(old) == len(v) {
				copy(v, old)
			}
			for i := range c {
				binary.BigEndian.PutUint64(v[8*i:], binary.BigEndian.Uint64(v[8*i:])+uint64(c[i]))
			}
			if err := b.Put(u64(uint64(hr)), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		q.log.Error("hourly counts could not be restored after the quarantine", "err", err)
	}
}
