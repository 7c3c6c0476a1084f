package queue

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Counts are the queue's records by where they are, for the installer's
// `kipass-agent queue` command. Counts only: never an id or a token.
type Counts struct {
	// Waiting records are pending delivery to central.
	Waiting int `json:"waiting"`
	// Dead letters were rejected by central for good.
	Dead int `json:"dead"`
	// Undecryptable records could not be read and are kept aside.
	Undecryptable int `json:"undecryptable"`
	// QuarantinedFiles are damaged queue files kept (after salvage) until
	// the purge destroys them.
	QuarantinedFiles int `json:"quarantined_files"`
	// QuarantinedUnread are the records in those files that could not be
	// salvaged (read when the file was quarantined, in this run).
	QuarantinedUnread int `json:"quarantined_unread"`
	// KeyMissing is set while the queue key is missing.
	KeyMissing bool `json:"key_missing,omitempty"`
}

// Counts returns the counts of the queue's records.
func (q *Queue) Counts() (Counts, error) {
	st, err := q.Stats()
	if err != nil {
		return Counts{}, err
	}
	return Counts{Waiting: st.Depth, Dead: st.Dead, Undecryptable: st.Undecryptable,
		QuarantinedFiles: len(q.quarantinedFiles()), QuarantinedUnread: int(q.unread.Load()),
		KeyMissing: q.keyMissing.Load()}, nil
}

// ResendDead moves every dead letter back to the pending queue, with its
// own times and key, so the uplink sends it again (an installer fixed what
// central refused: a device's enrollment, a facility). It returns how many
// it moved; a record with the same id already pending is dropped from the
// dead letters.
func (q *Queue) ResendDead() (int, error) {
	n := 0
	err := q.update(func(tx *bolt.Tx) error {
		n = 0
		dead, p, ids := tx.Bucket(bucketDead), tx.Bucket(bucketPending), tx.Bucket(bucketIDs)
		var keys [][]byte
		var vals [][]byte
		err := dead.ForEach(func(k, v []byte) error {
			var d deadRecord
			if json.Unmarshal(v, &d) != nil {
				return nil // unreadable: left for the purge
			}
			d.Attempts = 0
			sv, err := storedValue(d.storedRecord)
			if err != nil {
				return err
			}
			keys, vals = append(keys, append([]byte(nil), k...)), append(vals, sv)
			return nil
		})
		if err != nil {
			return err
		}
		depthNow := depth(tx)
		for i, k := range keys {
			if err := dead.Delete(k); err != nil {
				return err
			}
			if ik := ids.Get(k); ik != nil && p.Get(ik) != nil {
				continue
			}
			seq, err := p.NextSequence()
			if err != nil {
				return err
			}
			if err := p.Put(u64(seq), vals[i]); err != nil {
				return err
			}
			if err := ids.Put(k, u64(seq)); err != nil {
				return err
			}
			n++
		}
		return setDepth(tx, depthNow+n)
	})
	if err != nil {
		return 0, fmt.Errorf("resend dead letters: %w", err)
	}
	if n > 0 {
		q.log.Warn("dead letters queued again for central", "records", n)
	}
	return n, nil
}
