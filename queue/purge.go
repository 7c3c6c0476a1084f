package queue

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// PurgeCounts says how many records one purge destroyed.
type PurgeCounts struct {
	// Pending records never delivered.
	Pending int `json:"pending"`
	// Dead letters (rejected by central).
	Dead int `json:"dead"`
	// Undecryptable records.
	Undecryptable int `json:"undecryptable"`
}

// Total is the number of records destroyed.
func (c PurgeCounts) Total() int { return c.Pending + c.Dead + c.Undecryptable }

// purgeChunk bounds the deletes of one transaction.
const purgeChunk = 5000

// hourRetention is how long the hourly counters (counts only) are kept.
const hourRetention = 400 * 24 * time.Hour

// Purge destroys every record older than the retention (28 days),
// delivered or not: pending records by the time they were enqueued, dead
// letters by the time they were rejected, undecryptable records by the time
// they were moved aside. Pending records are walked oldest first and the
// walk stops at the first young one, so a clock that jumped backwards
// delays, but never widens, the purge.
func (q *Queue) Purge() (PurgeCounts, error) {
	now := q.opts.Clock.Now()
	cutoff := uint64(now.Add(-q.opts.Retention).UnixNano())
	var pc PurgeCounts
	for {
		n := 0
		more := false
		err := q.freeing(func() error {
			return q.update(func(tx *bolt.Tx) error {
				p, ids := tx.Bucket(bucketPending), tx.Bucket(bucketIDs)
				c := p.Cursor()
				var del [][]byte
				for k, v := c.First(); k != nil; k, v = c.Next() {
					if len(v) >= 8 && binary.BigEndian.Uint64(v) >= cutoff {
						break
					}
					if len(del) == purgeChunk {
						more = true
						break
					}
					del = append(del, k)
					if s, err := decodeStored(v); err == nil {
						if ik := ids.Get([]byte(s.ID)); ik != nil && string(ik) == string(k) {
							if err := ids.Delete([]byte(s.ID)); err != nil {
								return err
							}
						}
					}
				}
				for _, k := range del {
					if err := p.Delete(k); err != nil {
						return err
					}
				}
				n = len(del)
				hc := hourBatch{}
				hc.add(now, fieldPurged, n)
				if err := hc.write(tx); err != nil {
					return err
				}
				return setDepth(tx, depth(tx)-n)
			})
		})
		if err != nil {
			return pc, fmt.Errorf("purge: %w", err)
		}
		pc.Pending += n
		if !more {
			break
		}
	}
	err := q.freeing(func() error {
		return q.update(func(tx *bolt.Tx) error {
			var deadKeys, badKeys [][]byte
			err := tx.Bucket(bucketDead).ForEach(func(k, v []byte) error {
				var d deadRecord
				if json.Unmarshal(v, &d) != nil || uint64(d.RejectedAt.UnixNano()) < cutoff {
					deadKeys = append(deadKeys, k)
				}
				return nil
			})
			if err != nil {
				return err
			}
			err = tx.Bucket(bucketBad).ForEach(func(k, v []byte) error {
				if len(v) < 8 || binary.BigEndian.Uint64(v) < cutoff {
					badKeys = append(badKeys, k)
				}
				return nil
			})
			if err != nil {
				return err
			}
			for _, k := range deadKeys {
				if err := tx.Bucket(bucketDead).Delete(k); err != nil {
					return err
				}
			}
			for _, k := range badKeys {
				if err := tx.Bucket(bucketBad).Delete(k); err != nil {
					return err
				}
			}
			pc.Dead, pc.Undecryptable = len(deadKeys), len(badKeys)
			hc := hourBatch{}
			hc.add(now, fieldPurged, len(deadKeys)+len(badKeys))
			if err := hc.write(tx); err != nil {
				return err
			}
			// Hourly counters hold counts only; keep them 400 days.
			hb := tx.Bucket(bucketHours)
			old := uint64(now.Add(-hourRetention).Unix())
			var hk [][]byte
			hc2 := hb.Cursor()
			for k, _ := hc2.First(); k != nil && binary.BigEndian.Uint64(k) < old; k, _ = hc2.Next() {
				hk = append(hk, k)
			}
			for _, k := range hk {
				if err := hb.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
	})
	if err != nil {
		return pc, fmt.Errorf("purge: %w", err)
	}
	return pc, nil
}

// Run purges at once and then every PurgeEvery (1 hour) until ctx ends,
// logging the counts of every purge. A failed purge is logged and retried
// at the next period; it never ends Run. It returns nil when ctx ends.
func (q *Queue) Run(ctx context.Context) error {
	for {
		pc, err := q.Purge()
		if err != nil {
			q.log.Error("queue purge failed; will retry", "err", err)
		} else {
			q.log.Info("queue purge: records older than the retention destroyed",
				"pending", pc.Pending, "dead", pc.Dead, "undecryptable", pc.Undecryptable,
				"retention", q.opts.Retention.String())
		}
		q.ensureReserve()
		select {
		case <-ctx.Done():
			return nil
		case <-q.opts.Clock.After(q.opts.PurgeEvery):
		}
	}
}
