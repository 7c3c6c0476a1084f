// Package queue is the durable on-device queue of scans, kept in a bbolt
// file. A scan is committed with fsync before Enqueue returns, so the agent
// may confirm it aloud; it leaves the queue only when Ack is called for it
// (central acknowledged it), when Reject moves it to the dead letters, or
// when the 28-day purge destroys it. Records come out oldest first.
//
// Tokens are encrypted at rest with AES-256-GCM under a device key kept in
// a 0600 file beside the queue (Options.KeyFile, default PATH.key). If that
// key is lost, the records sealed under it cannot be decrypted any more:
// they are moved to an "undecryptable" bucket and counted
// (Stats.Undecryptable, HourCount.Undecryptable), never silently dropped,
// and they are destroyed by the 28-day purge like everything else.
//
// Concurrent Enqueue calls are group-committed: the calls waiting while a
// commit is in progress go into the next bbolt transaction together, with
// one fsync, and each call returns only after the transaction holding its
// own record has been committed to disk.
//
// A file that cannot be opened or walked (flipped bytes, truncation) is
// opened under recover, quarantined by renaming it to PATH.corrupt-TIME and
// replaced by a fresh queue; Alarm reports it loudly. Open never panics on
// a damaged file, so the agent never crash-loops on it.
package queue

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/clock"
	bolt "go.etcd.io/bbolt"
)

// Record is one scan as stored on the device and sent to central.
type Record struct {
	// Scan is the scan as central receives it. Its Token is stored
	// encrypted.
	api.Scan
	// Attempts counts the uplink attempts that central answered without
	// acknowledging this record (see MarkAttempt).
	Attempts int `json:"attempts"`
	// EnqueuedAt is when the record was committed.
	EnqueuedAt time.Time `json:"enqueued_at"`
}

// storedRecord is a Record as kept on disk: the token sealed, and the
// Scan's Token always empty.
type storedRecord struct {
	api.Scan
	Sealed     []byte    `json:"sealed"`
	Attempts   int       `json:"attempts,omitempty"`
	EnqueuedAt time.Time `json:"enqueued_at"`
}

// Options tune a queue. The zero value is usable.
type Options struct {
	// MaxRecords caps the number of pending records; 0 means 1,000,000.
	MaxRecords int
	// Clock stamps EnqueuedAt and drives the purge; clock.Real when nil.
	Clock clock.Clock
	// OpenTimeout bounds the wait for the file lock; 0 means 2 s.
	OpenTimeout time.Duration
	// KeyFile is the device key file (32 raw bytes, 0600); PATH.key when empty.
	KeyFile string
	// Retention is the purge age; 0 means 28 days.
	Retention time.Duration
	// PurgeEvery is the purge period of Run; 0 means 1 hour.
	PurgeEvery time.Duration
	// MaxGroup caps the records of one group commit; 0 means 1000.
	MaxGroup int
	// Log receives purge counts and alarms; slog.Default when nil.
	Log *slog.Logger
	// Reserve is the size of the disk-full reserve file PATH.reserve
	// (see reserve.go); 0 means 4 MiB, negative turns it off.
	Reserve int64
}

// DefaultRetention is how long any record is kept: 28 days.
const DefaultRetention = 28 * 24 * time.Hour

var (
	bucketPending = []byte("pending")       // seq (8 bytes BE) -> enqueued-at nanos (8 bytes BE) + JSON storedRecord
	bucketIDs     = []byte("ids")           // scan id -> seq
	bucketMeta    = []byte("meta")          // "depth" -> uint64 BE
	bucketDead    = []byte("dead")          // scan id -> JSON deadRecord
	bucketBad     = []byte("undecryptable") // seq -> moved-at nanos (8 bytes BE) + raw value
	bucketHours   = []byte("hours")         // hour start unix seconds (8 bytes BE) -> counters
	keyDepth      = []byte("depth")
	allBuckets    = [][]byte{bucketPending, bucketIDs, bucketMeta, bucketDead, bucketBad, bucketHours}
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
	return tx.Bucket(bucketMeta).Put(keyDepth, u64(uint64(n)))
}

// Alarm describes a damaged queue file that was quarantined, or a device key
// that was replaced. It is log-safe.
type Alarm struct {
	// At is when the damage was found.
	At time.Time `json:"at"`
	// Reason says what was found.
	Reason string `json:"reason"`
	// QuarantinedTo is where the damaged file was moved ("" if it was not).
	QuarantinedTo string `json:"quarantined_to,omitempty"`
}

// Queue is a durable FIFO of scan records. It is safe for concurrent use.
type Queue struct {
	db   *bolt.DB
	path string
	opts Options
	seal *sealer
	log  *slog.Logger

	mu     sync.RWMutex // guards closed and sends on reqs
	closed bool
	reqs   chan *enqReq
	done   chan struct{}

	alarmMu sync.Mutex
	alarms  []Alarm
}

// Close stops the group committer and closes the file. Enqueue calls after
// Close fail with ErrClosed.
func (q *Queue) Close() error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	q.closed = true
	close(q.reqs)
	q.mu.Unlock()
	<-q.done
	return q.db.Close()
}

// Alarms returns the alarms raised since Open: quarantined files, a
// replaced device key, damage found at run time. Empty when all is well.
func (q *Queue) Alarms() []Alarm {
	q.alarmMu.Lock()
	defer q.alarmMu.Unlock()
	return append([]Alarm(nil), q.alarms...)
}

func (q *Queue) raise(a Alarm) {
	q.alarmMu.Lock()
	q.alarms = append(q.alarms, a)
	q.alarmMu.Unlock()
	q.log.Error("QUEUE ALARM: "+a.Reason, "quarantined_to", a.QuarantinedTo)
}

// enqReq is one Enqueue call waiting for its group commit.
type enqReq struct {
	id    string
	v     []byte
	at    time.Time
	added bool
	err   error
	done  chan struct{}
}

// Enqueue durably records r. It returns added=false, with a nil error, when a
// record with the same ID is already pending: the scan is recorded once. When
// Enqueue returns a nil error the record is on disk (fsync'd). ErrFull means
// the capacity is reached; any other error means the scan was not recorded.
func (q *Queue) Enqueue(r Record) (added bool, err error) {
	r.EnqueuedAt = q.opts.Clock.Now()
	v, err := q.encode(r)
	if err != nil {
		return false, fmt.Errorf("enqueue: %w", err)
	}
	req := &enqReq{id: r.ID, v: v, at: r.EnqueuedAt, done: make(chan struct{})}
	q.mu.RLock()
	if q.closed {
		q.mu.RUnlock()
		return false, fmt.Errorf("enqueue: %w", ErrClosed)
	}
	q.reqs <- req
	q.mu.RUnlock()
	<-req.done
	if req.err != nil {
		return false, fmt.Errorf("enqueue: %w", req.err)
	}
	return req.added, nil
}

// committer runs the group commits: it takes every request waiting when the
// previous commit ended and commits them in one transaction.
func (q *Queue) committer() {
	defer close(q.done)
	batch := make([]*enqReq, 0, q.opts.MaxGroup)
	for first := range q.reqs {
		batch = append(batch[:0], first)
	fill:
		for len(batch) < q.opts.MaxGroup {
			select {
			case r, ok := <-q.reqs:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		q.commit(batch)
		for _, r := range batch {
			close(r.done)
		}
	}
}

func (q *Queue) commit(batch []*enqReq) {
	err := q.update(func(tx *bolt.Tx) error {
		ids, p := tx.Bucket(bucketIDs), tx.Bucket(bucketPending)
		n := depth(tx)
		hc := hourBatch{}
		for _, r := range batch {
			if k := ids.Get([]byte(r.id)); k != nil && p.Get(k) != nil {
				continue // already pending: recorded once
			}
			if n >= q.opts.MaxRecords {
				r.err = ErrFull
				continue
			}
			seq, err := p.NextSequence()
			if err != nil {
				return err
			}
			k := u64(seq)
			if err := p.Put(k, r.v); err != nil {
				return err
			}
			if err := ids.Put([]byte(r.id), k); err != nil {
				return err
			}
			r.added = true
			n++
			hc.add(r.at, fieldEnqueued, 1)
		}
		if err := hc.write(tx); err != nil {
			return err
		}
		return setDepth(tx, n)
	})
	if err != nil {
		for _, r := range batch {
			r.added, r.err = false, err
		}
	}
}

func (q *Queue) encode(r Record) ([]byte, error) {
	sealed, err := q.seal.seal(r.ID, r.Token)
	if err != nil {
		return nil, err
	}
	sc := r.Scan
	sc.Token = ""
	js, err := json.Marshal(storedRecord{Scan: sc, Sealed: sealed, Attempts: r.Attempts, EnqueuedAt: r.EnqueuedAt})
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	v := make([]byte, 8, 8+len(js))
	binary.BigEndian.PutUint64(v, uint64(r.EnqueuedAt.UnixNano()))
	return append(v, js...), nil
}

func decodeStored(v []byte) (storedRecord, error) {
	var s storedRecord
	if len(v) < 9 {
		return s, ErrCorrupt
	}
	if err := json.Unmarshal(v[8:], &s); err != nil {
		return s, ErrCorrupt
	}
	return s, nil
}

func (q *Queue) decode(v []byte) (Record, error) {
	s, err := decodeStored(v)
	if err != nil {
		return Record{}, err
	}
	tok, err := q.seal.open(s.ID, s.Sealed)
	if err != nil {
		return Record{}, err
	}
	sc := s.Scan
	sc.Token = tok
	return Record{Scan: sc, Attempts: s.Attempts, EnqueuedAt: s.EnqueuedAt}, nil
}

// Oldest returns up to n pending records, oldest first. Records that cannot
// be decoded or decrypted are moved to the undecryptable bucket and counted
// (logged as an error), so one bad record never blocks the queue.
func (q *Queue) Oldest(n int) ([]Record, error) {
	for round := 0; ; round++ {
		var out []Record
		var bad [][]byte
		err := q.view(func(tx *bolt.Tx) error {
			c := tx.Bucket(bucketPending).Cursor()
			for k, v := c.First(); k != nil && len(out) < n; k, v = c.Next() {
				r, err := q.decode(v)
				if err != nil {
					bad = append(bad, append([]byte(nil), k...))
					continue
				}
				out = append(out, r)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read oldest: %w", err)
		}
		if len(bad) == 0 || round > 0 {
			return out, nil
		}
		if err := q.moveUndecryptable(bad); err != nil {
			return nil, fmt.Errorf("read oldest: %w", err)
		}
	}
}

// moveUndecryptable moves pending records that cannot be read aside.
func (q *Queue) moveUndecryptable(keys [][]byte) error {
	now := q.opts.Clock.Now()
	err := q.update(func(tx *bolt.Tx) error {
		p, ids, bad := tx.Bucket(bucketPending), tx.Bucket(bucketIDs), tx.Bucket(bucketBad)
		n := depth(tx)
		hc := hourBatch{}
		for _, k := range keys {
			v := p.Get(k)
			if v == nil {
				continue
			}
			if s, err := decodeStored(v); err == nil {
				if ik := ids.Get([]byte(s.ID)); ik != nil && string(ik) == string(k) {
					if err := ids.Delete([]byte(s.ID)); err != nil {
						return err
					}
				}
			}
			nv := make([]byte, 8, 8+len(v))
			binary.BigEndian.PutUint64(nv, uint64(now.UnixNano()))
			if err := bad.Put(k, append(nv, v...)); err != nil {
				return err
			}
			if err := p.Delete(k); err != nil {
				return err
			}
			n--
			hc.add(now, fieldUndecryptable, 1)
		}
		if err := hc.write(tx); err != nil {
			return err
		}
		return setDepth(tx, n)
	})
	if err != nil {
		return fmt.Errorf("move undecryptable: %w", err)
	}
	q.log.Error("queued records cannot be decrypted (device key lost or file damaged): counted and kept aside until the purge",
		"count", len(keys))
	return nil
}

// Ack removes the records with the given ids: central has acknowledged them.
// Unknown ids are ignored.
func (q *Queue) Ack(ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	err := q.freeing(func() error { return q.ack(ids) })
	if isNoSpace(err) && len(ids) > 1 {
		// Smaller transactions need fewer new pages.
		h := len(ids) / 2
		if err = q.Ack(ids[:h]); err == nil {
			err = q.Ack(ids[h:])
		}
		return err
	}
	if err != nil {
		return fmt.Errorf("ack %d records: %w", len(ids), err)
	}
	return nil
}

func (q *Queue) ack(ids []string) error {
	now := q.opts.Clock.Now()
	return q.update(func(tx *bolt.Tx) error {
		idx, p := tx.Bucket(bucketIDs), tx.Bucket(bucketPending)
		n := depth(tx)
		done := 0
		for _, id := range ids {
			k := idx.Get([]byte(id))
			if k == nil {
				continue
			}
			if p.Get(k) != nil {
				if err := p.Delete(k); err != nil {
					return err
				}
				n--
				done++
			}
			if err := idx.Delete([]byte(id)); err != nil {
				return err
			}
		}
		hc := hourBatch{}
		hc.add(now, fieldDelivered, done)
		if err := hc.write(tx); err != nil {
			return err
		}
		return setDepth(tx, n)
	})
}

// MarkAttempt adds one to the attempt count of the pending records with the
// given ids: central answered but did not acknowledge them.
func (q *Queue) MarkAttempt(ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	err := q.update(func(tx *bolt.Tx) error {
		idx, p := tx.Bucket(bucketIDs), tx.Bucket(bucketPending)
		for _, id := range ids {
			k := idx.Get([]byte(id))
			v := p.Get(k)
			if k == nil || v == nil {
				continue
			}
			s, err := decodeStored(v)
			if err != nil {
				continue // moved aside by the next Oldest
			}
			s.Attempts++
			js, err := json.Marshal(s)
			if err != nil {
				return err
			}
			nv := append(append(make([]byte, 0, 8+len(js)), v[:8]...), js...)
			if err := p.Put(k, nv); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mark attempt on %d records: %w", len(ids), err)
	}
	return nil
}

// deadRecord is a record central rejected permanently, kept aside (counted,
// never retried) until the 28-day purge. Its token stays sealed.
type deadRecord struct {
	storedRecord
	Reason     string    `json:"reason"`
	RejectedAt time.Time `json:"rejected_at"`
}

// Reject moves the records with the given ids from the pending queue to the
// dead-letter bucket: central rejected them permanently, so they are never
// sent again. reasons[i] is the rejection reason of ids[i].
func (q *Queue) Reject(ids, reasons []string) error {
	if len(ids) == 0 {
		return nil
	}
	now := q.opts.Clock.Now()
	err := q.freeing(func() error {
		return q.update(func(tx *bolt.Tx) error {
			idx, p, dead := tx.Bucket(bucketIDs), tx.Bucket(bucketPending), tx.Bucket(bucketDead)
			n := depth(tx)
			done := 0
			for i, id := range ids {
				k := idx.Get([]byte(id))
				if k == nil {
					continue
				}
				v := p.Get(k)
				if v == nil {
					continue
				}
				s, err := decodeStored(v)
				if err != nil {
					continue // moved aside by the next Oldest
				}
				d := deadRecord{storedRecord: s, RejectedAt: now}
				if i < len(reasons) {
					d.Reason = reasons[i]
				}
				dv, err := json.Marshal(d)
				if err != nil {
					return err
				}
				if err := dead.Put([]byte(id), dv); err != nil {
					return err
				}
				if err := p.Delete(k); err != nil {
					return err
				}
				if err := idx.Delete([]byte(id)); err != nil {
					return err
				}
				n--
				done++
			}
			hc := hourBatch{}
			hc.add(now, fieldRejected, done)
			if err := hc.write(tx); err != nil {
				return err
			}
			return setDepth(tx, n)
		})
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
	// Capacity is the most records the queue holds (Options.MaxRecords).
	Capacity int
	// OldestEnqueued is when the oldest pending record was committed (zero if empty).
	OldestEnqueued time.Time
	// Dead is the number of records central rejected permanently.
	Dead int
	// Undecryptable is the number of records that could not be decrypted or
	// decoded (device key lost, damaged pages), kept aside until the purge.
	Undecryptable int
	// Alarms are the alarms raised since Open (see Queue.Alarms).
	Alarms []Alarm
}

// Stats returns the queue depth, the age of its oldest record and the
// counts of records kept aside.
func (q *Queue) Stats() (Stats, error) {
	s := Stats{Capacity: q.opts.MaxRecords, Alarms: q.Alarms()}
	err := q.view(func(tx *bolt.Tx) error {
		s.Depth = depth(tx)
		s.Dead = tx.Bucket(bucketDead).Stats().KeyN
		s.Undecryptable = tx.Bucket(bucketBad).Stats().KeyN
		if _, v := tx.Bucket(bucketPending).Cursor().First(); len(v) >= 8 {
			s.OldestEnqueued = time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC()
		}
		return nil
	})
	if err != nil {
		return Stats{}, fmt.Errorf("queue stats: %w", err)
	}
	return s, nil
}

// update and view run a bbolt transaction under recover: damage found at
// run time (a page that no longer parses, a fault in the mapped file) fails
// the call with ErrCorrupt and raises an alarm instead of crashing; the file
// is quarantined by the next Open.
func (q *Queue) update(fn func(*bolt.Tx) error) error { return q.guard(q.db.Update, fn) }

func (q *Queue) view(fn func(*bolt.Tx) error) error { return q.guard(q.db.View, fn) }

func (q *Queue) guard(run func(func(*bolt.Tx) error) error, fn func(*bolt.Tx) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrCorrupt, r)
			q.raise(Alarm{At: q.opts.Clock.Now(), Reason: fmt.Sprintf("queue file damaged at run time (%v); it will be quarantined at the next start", r)})
		}
	}()
	defer setPanicOnFault()()
	err = run(fn)
	if errors.Is(err, bolt.ErrDatabaseNotOpen) {
		err = fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return err
}

func u64(n uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, n)
	return k
}

// DeadLetter describes a record central rejected permanently. It carries no
// token.
type DeadLetter struct {
	// ID is the scan id.
	ID string `json:"id"`
	// Reason is central's rejection reason.
	Reason string `json:"reason"`
	// EnqueuedAt and RejectedAt date the record.
	EnqueuedAt time.Time `json:"enqueued_at"`
	RejectedAt time.Time `json:"rejected_at"`
}

// DeadLetters returns up to n dead letters (in id order), for the status
// page and the fault suite.
func (q *Queue) DeadLetters(n int) ([]DeadLetter, error) {
	var out []DeadLetter
	err := q.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketDead).Cursor()
		for k, v := c.First(); k != nil && len(out) < n; k, v = c.Next() {
			var d deadRecord
			if json.Unmarshal(v, &d) != nil {
				out = append(out, DeadLetter{ID: string(k), Reason: "undecodable"})
				continue
			}
			out = append(out, DeadLetter{ID: string(k), Reason: d.Reason, EnqueuedAt: d.EnqueuedAt, RejectedAt: d.RejectedAt})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	return out, nil
}
