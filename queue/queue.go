// Package queue is the durable on-device queue of scans, kept in a bbolt
// file. A scan is committed with fsync before Enqueue returns, so the agent
// may confirm it aloud; it leaves the queue only when Ack is called for it,
// after central has acknowledged it. Records come out oldest first.
package queue

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/kipass/kipass/clock"
	bolt "go.etcd.io/bbolt"
)

// Record is one scan as stored on the device and sent to central.
type Record struct {
	// ID is the idempotency key (token.ScanID of device and token).
	ID string `json:"id"`
	// Facility and Device identify where the scan happened.
	Facility string `json:"facility"`
	Device   string `json:"device"`
	// DeviceTime is the device's own clock at the scan.
	DeviceTime time.Time `json:"device_time"`
	// CorrectedTime is the device time corrected by the learned offset to central.
	CorrectedTime time.Time `json:"corrected_time"`
	// Token is the opaque QR text.
	Token string `json:"token"`
	// Verdict is the verdict given at the door ("verified" or "pending").
	Verdict string `json:"verdict"`
	// Attempts counts the uplink attempts made for this record.
	Attempts int `json:"attempts"`
	// EnqueuedAt is when the record was committed.
	EnqueuedAt time.Time `json:"enqueued_at"`
}

// Options tune a queue. The zero value is usable.
type Options struct {
	// MaxRecords caps the number of pending records; 0 means 1,000,000.
	MaxRecords int
	// Clock stamps EnqueuedAt; clock.Real when nil.
	Clock clock.Clock
	// OpenTimeout bounds the wait for the file lock; 0 means 2 s.
	OpenTimeout time.Duration
}

var (
	bucketPending = []byte("pending") // seq (8 bytes BE) -> JSON Record
	bucketIDs     = []byte("ids")     // scan id -> seq
	bucketMeta    = []byte("meta")    // "depth" -> uint64 BE
	bucketDead    = []byte("dead")    // scan id -> JSON deadRecord
	keyDepth      = []byte("depth")
)

func depth(tx *bolt.Tx) int {
	v := tx.Bucket(bucketMeta).Get(keyDepth)
	if len(v) != 8 {
		return 0
	}
	return int(binary.BigEndian.Uint64(v))
}

func setDepth(tx *bolt.Tx, n int) error {
	if n < 0 {
		n = 0
	}
	return tx.Bucket(bucketMeta).Put(keyDepth, seqKey(uint64(n)))
}

// Queue is a durable FIFO of scan records. It is safe for concurrent use.
type Queue struct {
	db   *bolt.DB
	opts Options
}

// Open opens or creates the queue file at path.
func Open(path string, o Options) (*Queue, error) {
	if o.MaxRecords <= 0 {
		o.MaxRecords = 1_000_000
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.OpenTimeout <= 0 {
		o.OpenTimeout = 2 * time.Second
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: o.OpenTimeout})
	if err != nil {
		return nil, fmt.Errorf("open queue %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketPending, bucketIDs, bucketMeta, bucketDead} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open queue %s: create buckets: %w", path, err)
	}
	return &Queue{db: db, opts: o}, nil
}

// Close closes the file.
func (q *Queue) Close() error { return q.db.Close() }

// Enqueue durably records r. It returns added=false, with a nil error, when a
// record with the same ID is already pending: the scan is recorded once. When
// Enqueue returns a nil error the record is on disk (fsync'd).
func (q *Queue) Enqueue(r Record) (added bool, err error) {
	r.EnqueuedAt = q.opts.Clock.Now()
	v, err := json.Marshal(r)
	if err != nil {
		return false, fmt.Errorf("enqueue: encode: %w", err)
	}
	err = q.db.Update(func(tx *bolt.Tx) error {
		ids := tx.Bucket(bucketIDs)
		if ids.Get([]byte(r.ID)) != nil {
			return nil
		}
		p := tx.Bucket(bucketPending)
		n := depth(tx)
		if n >= q.opts.MaxRecords {
			return ErrFull
		}
		seq, err := p.NextSequence()
		if err != nil {
			return err
		}
		k := seqKey(seq)
		if err := p.Put(k, v); err != nil {
			return err
		}
		added = true
		if err := ids.Put([]byte(r.ID), k); err != nil {
			return err
		}
		return setDepth(tx, n+1)
	})
	if err != nil {
		return false, fmt.Errorf("enqueue: %w", err)
	}
	return added, nil
}

// Oldest returns up to n pending records, oldest first.
func (q *Queue) Oldest(n int) ([]Record, error) {
	var out []Record
	err := q.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketPending).Cursor()
		for k, v := c.First(); k != nil && len(out) < n; k, v = c.Next() {
			var r Record
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("record %x: %w", k, ErrCorrupt)
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read oldest: %w", err)
	}
	return out, nil
}

// Ack removes the records with the given ids: central has acknowledged them.
// Unknown ids are ignored.
func (q *Queue) Ack(ids []string) error {
	err := q.db.Update(func(tx *bolt.Tx) error {
		idx, p := tx.Bucket(bucketIDs), tx.Bucket(bucketPending)
		n := depth(tx)
		for _, id := range ids {
			k := idx.Get([]byte(id))
			if k == nil {
				continue
			}
			if err := p.Delete(k); err != nil {
				return err
			}
			if err := idx.Delete([]byte(id)); err != nil {
				return err
			}
			n--
		}
		return setDepth(tx, n)
	})
	if err != nil {
		return fmt.Errorf("ack %d records: %w", len(ids), err)
	}
	return nil
}

// deadRecord is a record central rejected permanently, kept aside (counted,
// never retried) until the 28-day purge.
type deadRecord struct {
	Record
	Reason string `json:"reason"`
}

// Reject moves the records with the given ids from the pending queue to the
// dead-letter bucket: central rejected them permanently, so they are never
// sent again. reasons[i] is the rejection reason of ids[i].
func (q *Queue) Reject(ids, reasons []string) error {
	err := q.db.Update(func(tx *bolt.Tx) error {
		idx, p, dead := tx.Bucket(bucketIDs), tx.Bucket(bucketPending), tx.Bucket(bucketDead)
		n := depth(tx)
		for i, id := range ids {
			k := idx.Get([]byte(id))
			if k == nil {
				continue
			}
			var d deadRecord
			if err := json.Unmarshal(p.Get(k), &d.Record); err != nil {
				return fmt.Errorf("record %x: %w", k, ErrCorrupt)
			}
			if i < len(reasons) {
				d.Reason = reasons[i]
			}
			v, err := json.Marshal(d)
			if err != nil {
				return err
			}
			if err := dead.Put([]byte(id), v); err != nil {
				return err
			}
			if err := p.Delete(k); err != nil {
				return err
			}
			if err := idx.Delete([]byte(id)); err != nil {
				return err
			}
			n--
		}
		return setDepth(tx, n)
	})
	if err != nil {
		return fmt.Errorf("reject %d records: %w", len(ids), err)
	}
	return nil
}

// Stats describes the queue for the status page and heartbeat.
type Stats struct {
	// Depth is the number of records waiting for central.
	Depth int
	// OldestEnqueued is when the oldest pending record was committed (zero if empty).
	OldestEnqueued time.Time
	// Dead is the number of records central rejected permanently.
	Dead int
}

// Stats returns the queue depth and the age of its oldest record.
func (q *Queue) Stats() (Stats, error) {
	var s Stats
	err := q.db.View(func(tx *bolt.Tx) error {
		p := tx.Bucket(bucketPending)
		s.Depth = depth(tx)
		s.Dead = tx.Bucket(bucketDead).Stats().KeyN
		if _, v := p.Cursor().First(); v != nil {
			var r Record
			if err := json.Unmarshal(v, &r); err != nil {
				return ErrCorrupt
			}
			s.OldestEnqueued = r.EnqueuedAt
		}
		return nil
	})
	if err != nil {
		return Stats{}, fmt.Errorf("queue stats: %w", err)
	}
	return s, nil
}

func seqKey(seq uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, seq)
	return k
}
