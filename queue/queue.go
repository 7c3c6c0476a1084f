// Package queue is the durable on-device queue of scans, kept in a bbolt
// file. A scan is committed with fsync before Enqueue returns, so the agent
// may confirm it aloud; it leaves the queue only when Ack is called for it
// (central acknowledged it), when Reject moves it to the dead letters, or
// when the 28-day purge destroys it. Records come out oldest first.
//
// Tokens are encrypted at rest with AES-256-GCM, each under its own
// record key (PATH.keys, see keyring.go) derived with the device key
// (Options.KeyFile: a systemd credential, a path off the data directory,
// or PATH.key). A record's key is zeroed in place when central acknowledges
// it or the purge destroys it, so nothing delivered can be read back. If
// the device key is missing while sealed records exist, no fresh key is
// made over them: the queue records nothing (ErrKeyMissing) until the key
// is back. Records that cannot be decrypted are moved to an
// "undecryptable" bucket and counted (Stats.Undecryptable,
// HourCount.Undecryptable), never silently dropped, and destroyed by the
// 28-day purge like everything else.
//
// Records are stamped and aged on trusted time (Options.Time, see time.go).

// Concurrent Enqueue calls are group-committed: the calls waiting while a
// commit is in progress go into the next bbolt transaction together, with
// one fsync, and each call returns only after the transaction holding its
// own record has been committed to disk.
//
// A file that cannot be opened or walked (flipped bytes, truncation), at
// Open or at run time, is quarantined by renaming it to PATH.corrupt-TIME
// (with its record keys) and replaced by a fresh queue; its readable
// records are salvaged into the fresh queue at once, its hourly counts
// restored, and Alarm reports it until the queue records again. Open never
// panics on a damaged file, so the agent never crash-loops on it.
package queue

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/clock"
	bolt "go.etcd.io/bbolt"
)

// Record is one scan as stored on the device and sent to central.
type Record struct {
	// Scan is the scan as central receives it. Its Token is stored
	// encrypted. Its CorrectedTime is the caller's, or the queue's time
	// source (Options.Time) at enqueue when zero; re-based when the record
	// was taken under an untrusted clock (see ClockBasis).
	api.Scan
	// ClockBasis says what CorrectedTime rests on: BasisTrusted,
	// BasisUntrusted or one of the re-based bases.
	ClockBasis string `json:"clock_basis,omitempty"`
	// Attempts counts the uplink attempts that central answered without
	// acknowledging this record (see MarkAttempt).
	Attempts int `json:"attempts"`
	// EnqueuedAt is when the record was committed.
	EnqueuedAt time.Time `json:"enqueued_at"`
}

// KindPaper is the Kind of a paper-ledger visit: a count with no token.
const KindPaper = api.KindPaper

// storedRecord is a Record as kept on disk: the token sealed, and the
// Scan's Token always empty.
type storedRecord struct {
	api.Scan
	ClockBasis string `json:"clock_basis,omitempty"`
	// BootID and Boot are the boot and boot-clock reading at enqueue, for
	// re-basing a record taken under an untrusted clock.
	BootID string        `json:"boot_id,omitempty"`
	Boot   time.Duration `json:"boot_ns,omitempty"`
	// IssuedAt is the signed token's issued-at (zero for other tokens).
	IssuedAt time.Time `json:"issued_at,omitzero"`
	// KeySlot is the record key's slot in PATH.keys plus one (0: sealed
	// under the device key, before record keys).
	KeySlot    uint32    `json:"key_slot,omitempty"`
	Sealed     []byte    `json:"sealed"`
	Attempts   int       `json:"attempts,omitempty"`
	EnqueuedAt time.Time `json:"enqueued_at"`
}

// Options tune a queue. The zero value is usable.
type Options struct {
	// MaxRecords caps the number of pending records; 0 means 1,000,000.
	MaxRecords int
	// Clock times the purge period and alarms; clock.Real when nil.
	Clock clock.Clock
	// Time stamps records (corrected time, trusted or not, boot clock) and
	// ages them; ClockTime{Clock} (always trusted) when nil.
	Time Time
	// IssuedAt returns a token's own issued-at when it has one (a signed
	// token); it dates a record taken under an untrusted clock.
	IssuedAt func(token string) (time.Time, bool)
	// RebaseEvery is how often Run checks whether time became trusted to
	// re-base records taken without it; 0 means 1 minute.
	RebaseEvery time.Duration
	// OpenTimeout bounds the wait for the file lock; 0 means 2 s.
	OpenTimeout time.Duration
	// KeyFile is the device key file (32 raw bytes, 0600); PATH.key when empty.
	KeyFile string
	// RecordKeys is the file of per-record keys (see keyring.go);
	// PATH.keys when empty.
	RecordKeys string
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
	bucketPending = []byte("pending")       // seq (8 bytes BE) -> header (corrected-time nanos, 8 bytes BE; basis flag) + JSON storedRecord
	bucketIDs     = []byte("ids")           // scan id -> seq
	bucketMeta    = []byte("meta")          // "depth" -> uint64 BE
	bucketDead    = []byte("dead")          // scan id -> JSON deadRecord
	bucketBad     = []byte("undecryptable") // seq -> moved-at nanos (8 bytes BE) + raw value
	bucketHours   = []byte("hours")         // hour start unix seconds (8 bytes BE) -> counters
	keyDepth      = []byte("depth")
	allBuckets    = [][]byte{bucketPending, bucketIDs, bucketMeta, bucketDead, bucketBad, bucketHours, bucketCounted}
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
	// seq orders alarms and commits (see Queue.events).
	seq uint64
}

// Queue is a durable FIFO of scan records. It is safe for concurrent use.
type Queue struct {
	db     *bolt.DB
	path   string
	opts   Options
	seal   *sealer // the device key: records written before record keys
	master []byte  // the device key's bytes: record keys derive from it
	keys   *keyring
	log    *slog.Logger
	time   Time

	// keyMissing is set while the device key is missing and sealed
	// records exist: nothing is recorded or read.
	keyMissing atomic.Bool

	// needRebase is set while records taken under an untrusted clock may
	// be waiting to be re-based.
	needRebase atomic.Bool

	// dbMu guards db, keys and gen: transactions hold it for reading, a
	// quarantine at run time swaps them under the write lock.
	dbMu sync.RWMutex
	gen  int

	mu     sync.RWMutex // guards closed and sends on reqs
	closed bool
	reqs   chan *enqReq
	done   chan struct{}

	alarmMu sync.Mutex
	alarms  []Alarm
	// events numbers alarms and commits; recordedAt is the number of the
	// last commit that recorded a scan.
	events     atomic.Uint64
	recordedAt atomic.Uint64
	// unread counts the records of quarantined files that salvage could
	// not read.
	unread atomic.Int64
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
	if err := q.saveHours(); err != nil {
		q.log.Warn("hourly counts copy not written", "err", err)
	}
	q.dbMu.Lock()
	defer q.dbMu.Unlock()
	return errors.Join(q.db.Close(), q.keys.close())
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
	a.seq = q.events.Add(1)
	q.alarms = append(q.alarms, a)
	q.alarmMu.Unlock()
	q.log.Error("QUEUE ALARM: "+a.Reason, "quarantined_to", a.QuarantinedTo)
}

// enqReq is one Enqueue call waiting for its group commit.
type enqReq struct {
	id     string
	rec    Record
	stored storedRecord
	v      []byte   // the stored value, sealed under a key of kr
	kr     *keyring // the record keys v was sealed with
	at     time.Time
	added  bool
	err    error
	done   chan struct{}
}

// agreement is how far a caller's corrected time may be from the queue's
// trusted time for the record to count as taken on trusted time.
const agreement = time.Minute

// Enqueue durably records r. It stamps EnqueuedAt and ClockBasis: the
// record is trusted when the queue's time is trusted and r.CorrectedTime
// (stamped with it when zero) agrees with it within a minute. It returns added=false, with a nil error, when a
// record with the same ID is already pending: the scan is recorded once. When
// Enqueue returns a nil error the record is on disk (fsync'd). ErrFull means
// the capacity is reached; any other error means the scan was not recorded.
func (q *Queue) Enqueue(r Record) (added bool, err error) {
	if q.keyMissing.Load() {
		return false, fmt.Errorf("enqueue: %w", ErrKeyMissing)
	}
	now, trusted := q.time.Now()
	r.EnqueuedAt = now
	if r.CorrectedTime.IsZero() {
		r.CorrectedTime = now
	} else if d := r.CorrectedTime.Sub(now); d > agreement || d < -agreement {
		trusted = false // taken on another clock: re-based like an untrusted one
	}
	r.ClockBasis = BasisTrusted
	if !trusted {
		r.ClockBasis = BasisUntrusted
	}
	var s storedRecord
	if !trusted {
		bootID, boot := q.time.Boot()
		// Only a record taken without trusted time needs what re-bases it.
		s.BootID, s.Boot = bootID, boot
		if q.opts.IssuedAt != nil {
			if t, ok := q.opts.IssuedAt(r.Token); ok {
				s.IssuedAt = t
			}
		}
	}
	req := &enqReq{id: r.ID, rec: r, stored: s, at: r.EnqueuedAt, done: make(chan struct{})}
	if err := q.seal1(req); err != nil {
		return false, fmt.Errorf("enqueue: %w", err)
	}
	q.mu.RLock()
	if q.closed {
		q.mu.RUnlock()
		req.kr.shred([]uint32{slotOf(req.v)})
		return false, fmt.Errorf("enqueue: %w", ErrClosed)
	}
	q.reqs <- req
	q.mu.RUnlock()
	<-req.done
	if !req.added {
		// Not recorded (a duplicate, full, failed): its key is never needed.
		req.kr.shred([]uint32{slotOf(req.v)})
	}
	if req.err == nil && !trusted {
		q.needRebase.Store(true)
	}
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

// seal1 seals req's record under a fresh record key of the current
// record keys (q.keys, which a quarantine replaces).
func (q *Queue) seal1(req *enqReq) error {
	q.dbMu.RLock()
	kr := q.keys
	q.dbMu.RUnlock()
	v, err := q.encode(kr, req.rec, req.stored)
	if err != nil {
		return err
	}
	req.v, req.kr = v, kr
	return nil
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
			if r.kr != q.keys {
				// Sealed before a quarantine replaced the record keys.
				v, err := q.encode(q.keys, r.rec, r.stored)
				if err != nil {
					return err
				}
				r.kr.shred([]uint32{slotOf(r.v)})
				r.v, r.kr = v, q.keys
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
			if first, err := countOnce(tx, r.id, r.at); err != nil {
				return err
			} else if first {
				hc.add(r.at, enqueuedField(r.rec.Kind), 1)
			}
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
		return
	}
	q.recordedAt.Store(q.events.Add(1))
}

// encode seals r's token and returns the stored value; s carries the
// boot reading and issued-at.
func (q *Queue) encode(kr *keyring, r Record, s storedRecord) ([]byte, error) {
	slot, sl, err := kr.take()
	if err != nil {
		return nil, err
	}
	sealed, err := sl.seal(r.ID, r.Token)
	if err != nil {
		kr.shred([]uint32{slot})
		return nil, err
	}
	s.KeySlot = slot + 1
	s.Scan, s.Scan.Token = r.Scan, ""
	s.ClockBasis, s.Sealed = r.ClockBasis, sealed
	s.Attempts, s.EnqueuedAt = r.Attempts, r.EnqueuedAt
	return storedValue(s)
}

// A pending value is a header — the corrected time in nanoseconds (8
// bytes BE) and a basis flag — and the JSON storedRecord. Files written
// before the flag existed have the JSON right after the 8 bytes; their
// times are trusted.
const (
	flagTrusted   = 'T'
	flagUntrusted = 'U'
	headerLen     = 9
)

func storedValue(s storedRecord) ([]byte, error) {
	js, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	v := make([]byte, headerLen, headerLen+len(js))
	binary.BigEndian.PutUint64(v, uint64(s.CorrectedTime.UnixNano()))
	v[8] = flagTrusted
	if s.ClockBasis == BasisUntrusted {
		v[8] = flagUntrusted
	}
	return append(v, js...), nil
}

// header returns a pending value's stamp, whether it is trusted and where
// its JSON starts; ok is false for a value too short to hold one.
func header(v []byte) (stamp int64, trusted bool, body int, ok bool) {
	if len(v) < 9 {
		return 0, false, 0, false
	}
	stamp = int64(binary.BigEndian.Uint64(v))
	switch v[8] {
	case flagTrusted:
		return stamp, true, headerLen, true
	case flagUntrusted:
		return stamp, false, headerLen, true
	}
	return stamp, true, 8, true // written before the flag
}

// slot is the record key slot of s (noSlot for none).
func (s storedRecord) slot() uint32 {
	if s.KeySlot == 0 {
		return noSlot
	}
	return s.KeySlot - 1
}

// slotOf is the record key slot of a stored value (noSlot when it cannot
// be read).
func slotOf(v []byte) uint32 {
	s, err := decodeStored(v)
	if err != nil {
		return noSlot
	}
	return s.slot()
}

func decodeStored(v []byte) (storedRecord, error) {
	var s storedRecord
	_, _, body, ok := header(v)
	if !ok {
		return s, ErrCorrupt
	}
	if err := json.Unmarshal(v[body:], &s); err != nil {
		return s, ErrCorrupt
	}
	return s, nil
}

func (q *Queue) decode(v []byte) (Record, error) {
	s, err := decodeStored(v)
	if err != nil {
		return Record{}, err
	}
	sl := q.seal
	if s.KeySlot != 0 {
		if sl, err = q.keys.sealer(s.KeySlot - 1); err != nil {
			return Record{}, err
		}
	}
	tok, err := sl.open(s.ID, s.Sealed)
	if err != nil {
		return Record{}, err
	}
	sc := s.Scan
	sc.Token = tok
	return Record{Scan: sc, ClockBasis: s.ClockBasis, Attempts: s.Attempts, EnqueuedAt: s.EnqueuedAt}, nil
}

// Oldest returns up to n pending records, oldest first. Records that cannot
// be decoded or decrypted are moved to the undecryptable bucket and counted
// (logged as an error), so one bad record never blocks the queue.
//
// A record taken under an untrusted clock comes out with its re-based time
// once the time is trusted (Rebase writes it back later).
func (q *Queue) Oldest(n int) ([]Record, error) {
	if q.keyMissing.Load() {
		return nil, nil // nothing can be read (nor moved aside) without the key
	}
	now, trusted := q.time.Now()
	var bootID string
	var boot time.Duration
	if trusted {
		bootID, boot = q.time.Boot()
	}
	retried := false
	for round := 0; ; round++ {
		gen := q.generation()
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
				if _, stamped, _, _ := header(v); !stamped && trusted {
					if s, err := decodeStored(v); err == nil {
						r.CorrectedTime, r.ClockBasis = rebase(s, now, bootID, boot)
					}
				}
				out = append(out, r)
			}
			return nil
		})
		if err == nil && len(bad) > 0 && round == 0 {
			err = q.moveUndecryptable(bad)
			bad = nil
			if err == nil {
				continue
			}
		}
		if err != nil && !retried && q.generation() != gen {
			// The damage was found and the file quarantined: read the
			// fresh (salvaged) queue instead.
			retried, round = true, -1
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read oldest: %w", err)
		}
		return out, nil
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
	var slots []uint32
	var kr *keyring
	err := q.update(func(tx *bolt.Tx) error {
		slots, kr = slots[:0], q.keys
		idx, p := tx.Bucket(bucketIDs), tx.Bucket(bucketPending)
		n := depth(tx)
		done := 0
		for _, id := range ids {
			k := idx.Get([]byte(id))
			if k == nil {
				continue
			}
			if v := p.Get(k); v != nil {
				slots = append(slots, slotOf(v))
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
	if err != nil {
		return err
	}
	// Delivered: shred their keys, so nothing delivered can be read back.
	return kr.shred(slots)
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
			_, _, body, _ := header(v)
			nv := append(append(make([]byte, 0, body+len(js)), v[:body]...), js...)
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

// generation counts the run-time quarantines.
func (q *Queue) generation() int {
	q.dbMu.RLock()
	defer q.dbMu.RUnlock()
	return q.gen
}

// update and view run a bbolt transaction under recover: damage found at
// run time (a page that no longer parses, a fault in the mapped file) fails
// the call with ErrCorrupt and raises an alarm instead of crashing; the file
// is quarantined by the next Open.
func (q *Queue) update(fn func(*bolt.Tx) error) error { return q.guard(true, fn) }

func (q *Queue) view(fn func(*bolt.Tx) error) error { return q.guard(false, fn) }

// guard runs fn in a transaction under the read lock of the file (a
// quarantine swaps it under the write lock). fn may use q.keys.
func (q *Queue) guard(write bool, fn func(*bolt.Tx) error) (err error) {
	q.dbMu.RLock()
	db, gen := q.db, q.gen
	var damage any
	func() {
		defer func() { damage = recover() }()
		defer setPanicOnFault()()
		if write {
			err = db.Update(fn)
		} else {
			err = db.View(fn)
		}
	}()
	q.dbMu.RUnlock()
	if damage != nil {
		err = fmt.Errorf("%w: %v", ErrCorrupt, damage)
		if qerr := q.quarantineLive(gen, fmt.Sprint(damage)); qerr != nil {
			q.raise(Alarm{At: q.opts.Clock.Now(), Reason: fmt.Sprintf("queue file damaged at run time (%v); it will be quarantined at the next start: %v", damage, qerr)})
		}
		return err
	}
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
