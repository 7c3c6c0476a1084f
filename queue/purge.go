package queue

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
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
	// QuarantinedFiles destroyed (damaged queue files, after salvage).
	QuarantinedFiles int `json:"quarantined_files"`
}

// Total is the number of records destroyed.
func (c PurgeCounts) Total() int { return c.Pending + c.Dead + c.Undecryptable }

// purgeChunk bounds the deletes of one transaction.
const purgeChunk = 5000

// hourRetention is how long the hourly counters (counts only) are kept.
const hourRetention = 400 * 24 * time.Hour

// Purge destroys every record whose scan is older than the retention (28
// days) on trusted time, delivered or not: pending records, dead letters
// and undecryptable records alike, each by the scan's own corrected time.
// It does nothing while the time is not trusted, and it first re-bases the
// records taken under an untrusted clock (Rebase). Every record is looked
// at: a record stamped in the future delays only its own purge.
func (q *Queue) Purge() (PurgeCounts, error) {
	now, trusted := q.time.Now()
	var pc PurgeCounts
	if !trusted {
		q.log.Warn("queue purge deferred: the time is not trusted yet, so no record is aged")
		return pc, nil
	}
	if _, err := q.Rebase(); err != nil {
		return pc, fmt.Errorf("purge: %w", err)
	}
	cutoff := now.Add(-q.opts.Retention).UnixNano()
	var from []byte
	for {
		n := 0
		more := false
		var slots []uint32
		var kr *keyring
		err := q.freeing(func() error {
			return q.update(func(tx *bolt.Tx) error {
				slots, kr = slots[:0], q.keys
				p, ids := tx.Bucket(bucketPending), tx.Bucket(bucketIDs)
				c := p.Cursor()
				var del [][]byte
				k, v := c.First()
				if from != nil {
					k, v = c.Seek(from)
				}
				for ; k != nil; k, v = c.Next() {
					stamp, trusted, _, ok := header(v)
					if !ok || !trusted || stamp >= cutoff {
						continue
					}
					if len(del) == purgeChunk {
						more, from = true, append([]byte(nil), k...)
						break
					}
					del = append(del, k)
					if s, err := decodeStored(v); err == nil {
						slots = append(slots, s.slot())
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
		if err == nil {
			err = kr.shred(slots)
		}
		if err != nil {
			return pc, fmt.Errorf("purge: %w", err)
		}
		pc.Pending += n
		if !more {
			break
		}
	}
	var slots []uint32
	var kr *keyring
	err := q.freeing(func() error {
		return q.update(func(tx *bolt.Tx) error {
			slots, kr = slots[:0], q.keys
			var deadKeys, badKeys [][]byte
			err := tx.Bucket(bucketDead).ForEach(func(k, v []byte) error {
				var d deadRecord
				if json.Unmarshal(v, &d) != nil {
					deadKeys = append(deadKeys, k) // nothing left to deliver
				} else if d.ClockBasis != BasisUntrusted && d.CorrectedTime.UnixNano() < cutoff {
					deadKeys = append(deadKeys, k)
					slots = append(slots, d.slot())
				}
				return nil
			})
			if err != nil {
				return err
			}
			err = tx.Bucket(bucketBad).ForEach(func(k, v []byte) error {
				if badStamp(v) < cutoff {
					badKeys = append(badKeys, k)
					if len(v) > 8 {
						slots = append(slots, slotOf(v[8:]))
					}
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
			old := uint64(max(now.Add(-hourRetention).Unix(), 0))
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
	if err == nil {
		err = kr.shred(slots)
	}
	if err == nil {
		pc.QuarantinedFiles, err = q.purgeQuarantined(now)
	}
	if err != nil {
		return pc, fmt.Errorf("purge: %w", err)
	}
	return pc, nil
}

// purgeQuarantined destroys the quarantined files (and their record keys)
// 28 days after the purge first saw them on trusted time: every scan in a
// quarantined file is older than that, and its readable records were
// salvaged into the queue, where they age by their own time.
func (q *Queue) purgeQuarantined(now time.Time) (int, error) {
	files := q.quarantinedFiles()
	if len(files) == 0 {
		return 0, nil
	}
	var destroy []string
	err := q.update(func(tx *bolt.Tx) error {
		destroy = destroy[:0]
		m := tx.Bucket(bucketMeta)
		for _, f := range files {
			k := []byte("quarantine-seen:" + filepath.Base(f))
			v := m.Get(k)
			if len(v) != 8 {
				if err := m.Put(k, u64(uint64(now.UnixNano()))); err != nil {
					return err
				}
				continue
			}
			if now.Sub(time.Unix(0, int64(binary.BigEndian.Uint64(v)))) >= q.opts.Retention {
				destroy = append(destroy, f)
				if err := m.Delete(k); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, f := range destroy {
		os.Remove(f + ".keys")
		if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
			return 0, err
		}
	}
	return len(destroy), nil
}

// badStamp is the time an undecryptable record is aged by: the scan's own
// trusted time when its header still says it, else the (later) time it was
// moved aside, so it is never destroyed early.
func badStamp(v []byte) int64 {
	if len(v) < 8 {
		return 0
	}
	if stamp, trusted, _, ok := header(v[8:]); ok && trusted {
		return stamp
	}
	return int64(binary.BigEndian.Uint64(v))
}

// Rebase gives the records taken under an untrusted clock (pending and
// dead letters) their trusted time, once the time is trusted: from the
// boot clock when they were taken in this boot, else from the signed
// token's issued-at, else the first trusted time (see the Basis
// constants). It returns how many it re-based; it does nothing while the
// time is not trusted.
func (q *Queue) Rebase() (int, error) {
	now, trusted := q.time.Now()
	if !trusted {
		return 0, nil
	}
	bootID, boot := q.time.Boot()
	n := 0
	err := q.update(func(tx *bolt.Tx) error {
		type kv struct{ k, v []byte }
		var puts []kv
		p := tx.Bucket(bucketPending)
		c := p.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if _, trusted, _, ok := header(v); !ok || trusted {
				continue
			}
			s, err := decodeStored(v)
			if err != nil {
				continue // moved aside by the next Oldest
			}
			s.CorrectedTime, s.ClockBasis = rebase(s, now, bootID, boot)
			nv, err := storedValue(s)
			if err != nil {
				return err
			}
			puts = append(puts, kv{append([]byte(nil), k...), nv})
		}
		for _, e := range puts {
			if err := p.Put(e.k, e.v); err != nil {
				return err
			}
		}
		n = len(puts)
		dead := tx.Bucket(bucketDead)
		puts = puts[:0]
		err := dead.ForEach(func(k, v []byte) error {
			var d deadRecord
			if json.Unmarshal(v, &d) != nil || d.ClockBasis != BasisUntrusted {
				return nil
			}
			d.CorrectedTime, d.ClockBasis = rebase(d.storedRecord, now, bootID, boot)
			dv, err := json.Marshal(d)
			if err != nil {
				return err
			}
			puts = append(puts, kv{append([]byte(nil), k...), dv})
			return nil
		})
		if err != nil {
			return err
		}
		for _, e := range puts {
			if err := dead.Put(e.k, e.v); err != nil {
				return err
			}
		}
		n += len(puts)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("rebase: %w", err)
	}
	q.needRebase.Store(false)
	if n > 0 {
		q.log.Info("queue: records taken under an untrusted clock dated on trusted time", "records", n)
	}
	return n, nil
}

// Run purges at once and then every PurgeEvery (1 hour) until ctx ends,
// logging the counts of every purge; between purges it checks every
// RebaseEvery (1 minute) whether the time became trusted while records
// wait to be re-based, and then re-bases and purges at once. A failed
// purge is logged and retried at the next period; it never ends Run. It
// returns nil when ctx ends.
func (q *Queue) Run(ctx context.Context) error {
	purge := func() {
		pc, err := q.Purge()
		if err != nil {
			q.log.Error("queue purge failed; will retry", "err", err)
		} else {
			q.log.Info("queue purge: records older than the retention destroyed",
				"pending", pc.Pending, "dead", pc.Dead, "undecryptable", pc.Undecryptable, "quarantined_files", pc.QuarantinedFiles,
				"retention", q.opts.Retention.String())
		}
		q.ensureReserve()
	}
	purge()
	last := q.opts.Clock.Now()
	saved, savedAt := uint64(0), time.Time{}
	for {
		if ev := q.events.Load(); ev != saved && time.Since(savedAt) >= hoursEvery {
			if err := q.saveHours(); err != nil {
				q.log.Warn("hourly counts copy not written; will retry", "err", err)
			} else {
				saved, savedAt = ev, time.Now()
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-q.opts.Clock.After(min(q.opts.RebaseEvery, q.opts.PurgeEvery)):
		}
		q.findKey()
		now := q.opts.Clock.Now()
		_, trusted := q.time.Now()
		if d := now.Sub(last); d >= q.opts.PurgeEvery || d < 0 || (trusted && q.needRebase.Load()) {
			purge()
			last = now
		}
	}
}
