package queue

import (
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// HourCount is what happened to the queue in one clock hour. Counts only:
// no ids, no tokens. The status page reads them with HourlyCounts.
type HourCount struct {
	// Hour is the start of the hour, UTC.
	Hour time.Time `json:"hour"`
	// Enqueued scans were committed durably (and could be confirmed).
	Enqueued int `json:"enqueued"`
	// Delivered scans were acknowledged by central and removed.
	Delivered int `json:"delivered"`
	// Rejected scans were moved to the dead letters.
	Rejected int `json:"rejected"`
	// Purged records were destroyed by the 28-day purge.
	Purged int `json:"purged"`
	// Undecryptable records could not be read and were moved aside.
	Undecryptable int `json:"undecryptable"`
	// Paper visits (records of KindPaper) were committed durably; they are
	// not among Enqueued, which counts scans.
	Paper int `json:"paper"`
}

const (
	fieldEnqueued = iota
	fieldDelivered
	fieldRejected
	fieldPurged
	fieldUndecryptable
	fieldPaper
	nFields
)

// enqueuedField is the counter a new record of kind adds to.
func enqueuedField(kind string) int {
	if kind == KindPaper {
		return fieldPaper
	}
	return fieldEnqueued
}

// hourBatch accumulates counter increments of one transaction.
type hourBatch map[int64]*[nFields]int

func (h hourBatch) add(at time.Time, field, n int) {
	if n == 0 {
		return
	}
	hr := at.Unix() - at.Unix()%3600
	c := h[hr]
	if c == nil {
		c = new([nFields]int)
		h[hr] = c
	}
	c[field] += n
}

func (h hourBatch) write(tx *bolt.Tx) error {
	b := tx.Bucket(bucketHours)
	for hr, c := range h {
		k := u64(uint64(hr))
		v := make([]byte, 8*nFields)
		if old := b.Get(k); len(old) <= len(v) && len(old)%8 == 0 {
			copy(v, old) // a file written before a counter was added has fewer
		}
		for i := 0; i < nFields; i++ {
			binary.BigEndian.PutUint64(v[8*i:], binary.BigEndian.Uint64(v[8*i:])+uint64(c[i]))
		}
		if err := b.Put(k, v); err != nil {
			return err
		}
	}
	return nil
}

// HourlyCounts returns the counters of the hours that overlap [from, to),
// oldest first; hours in which nothing happened are left out. Hours are
// clock hours (UTC-aligned, so KST hours too).
func (q *Queue) HourlyCounts(from, to time.Time) ([]HourCount, error) {
	var out []HourCount
	lo := from.Unix() - from.Unix()%3600
	err := q.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketHours).Cursor()
		for k, v := c.Seek(u64(uint64(max(lo, 0)))); k != nil; k, v = c.Next() {
			hr := int64(binary.BigEndian.Uint64(k))
			if hr >= to.Unix() {
				break
			}
			if len(v) > 8*nFields || len(v)%8 != 0 {
				continue
			}
			f := func(i int) int {
				if 8*i+8 > len(v) {
					return 0 // a counter added after the hour was written
				}
				return int(binary.BigEndian.Uint64(v[8*i:]))
			}
			out = append(out, HourCount{
				Hour: time.Unix(hr, 0).UTC(), Enqueued: f(fieldEnqueued), Delivered: f(fieldDelivered),
				Rejected: f(fieldRejected), Purged: f(fieldPurged), Undecryptable: f(fieldUndecryptable),
				Paper: f(fieldPaper),
			})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("hourly counts: %w", err)
	}
	return out, nil
}

// bucketCounted holds the scan ids counted as enqueued, by hour: hour
// start (8 bytes BE) ‖ scan id -> nothing. A token lives 15 seconds, so a
// scan id recurs (shown again after the dedup window, after its first
// record was delivered) within minutes: the hour and the one before are
// looked at, and older hours are dropped.
var bucketCounted = []byte("counted")

// countOnce reports whether the scan id is counted for the first time at
// at, and records it. A scan id is one visit on the device as at central.
func countOnce(tx *bolt.Tx, id string, at time.Time) (bool, error) {
	b, err := tx.CreateBucketIfNotExists(bucketCounted)
	if err != nil {
		return false, err
	}
	hr := at.Unix() - at.Unix()%3600
	for _, h := range []int64{hr, hr - 3600} {
		if b.Get(append(u64(uint64(max(h, 0))), id...)) != nil {
			return false, nil
		}
	}
	// Drop the ids of hours before the previous one.
	cut := u64(uint64(max(hr-3600, 0)))
	var old [][]byte
	c := b.Cursor()
	for k, _ := c.First(); k != nil && string(k[:min(8, len(k))]) < string(cut); k, _ = c.Next() {
		old = append(old, append([]byte(nil), k...))
	}
	for _, k := range old {
		if err := b.Delete(k); err != nil {
			return false, err
		}
	}
	return true, b.Put(append(u64(uint64(max(hr, 0))), id...), []byte{})
}
