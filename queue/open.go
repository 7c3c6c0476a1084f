package queue

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/kipass/kipass/clock"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Open opens or creates the queue file at path and its device key. A file
// that cannot be opened, or whose pages cannot be walked, is quarantined
// (renamed to PATH.corrupt-TIME) and replaced by a fresh, empty queue; the
// returned queue then reports an Alarm. A key file of the wrong size is
// quarantined the same way and replaced by a new key. Open returns an
// error, without touching the file, when the file is locked by another
// process (after OpenTimeout), when permission is denied, or when the disk
// is full or read-only.
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
	if o.KeyFile == "" {
		o.KeyFile = path + ".key"
	}
	if o.RecordKeys == "" {
		o.RecordKeys = path + ".keys"
	}
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	if o.PurgeEvery <= 0 {
		o.PurgeEvery = time.Hour
	}
	if o.MaxGroup <= 0 {
		o.MaxGroup = 1000
	}
	if o.Time == nil {
		o.Time = ClockTime{o.Clock}
	}
	if o.RebaseEvery <= 0 {
		o.RebaseEvery = time.Minute
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Reserve == 0 {
		o.Reserve = defaultReserve
	}
	q := &Queue{path: path, opts: o, log: o.Log, time: o.Time, reqs: make(chan *enqReq, 4096), done: make(chan struct{})}
	stamp := func() string { return o.Clock.Now().UTC().Format("20060102T150405.000Z") }

	key, err := loadKey(o.KeyFile)
	if errors.Is(err, ErrKey) && !errors.Is(err, fs.ErrPermission) && !errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat(o.KeyFile); serr == nil {
			to := o.KeyFile + ".corrupt-" + stamp()
			if rerr := os.Rename(o.KeyFile, to); rerr != nil {
				return nil, fmt.Errorf("open queue: %w", err)
			}
			q.raise(Alarm{At: o.Clock.Now(), Reason: "device key file unusable (" + err.Error() + "); moved aside", QuarantinedTo: to})
			key, err = nil, fmt.Errorf("%w: %w", ErrKey, fs.ErrNotExist)
		}
	}
	missing := errors.Is(err, fs.ErrNotExist)
	if err != nil && !missing {
		return nil, fmt.Errorf("open queue: %w", err)
	}
	if !missing {
		if q.seal, err = newSealer(key); err != nil {
			return nil, fmt.Errorf("open queue: %w", err)
		}
	}

	q.master = key
	quarantined := ""
	db, err := openChecked(path, o.OpenTimeout)
	if err != nil {
		if !quarantinable(err) {
			return nil, fmt.Errorf("open queue %s: %w", path, err)
		}
		// The record keys go with the file they open.
		to, rerr := q.quarantine()
		if rerr != nil {
			return nil, fmt.Errorf("open queue %s: quarantine after %v: %w", path, err, rerr)
		}
		quarantined = to
		q.raise(Alarm{At: o.Clock.Now(), Reason: "queue file damaged (" + err.Error() + "); quarantined and replaced by an empty queue", QuarantinedTo: to})
		if db, err = openChecked(path, o.OpenTimeout); err != nil {
			return nil, fmt.Errorf("open queue %s: fresh file after quarantine: %w", path, err)
		}
	}
	q.db = db
	if q.keys, err = openKeyring(o.RecordKeys, key); err != nil {
		db.Close()
		return nil, fmt.Errorf("open queue: %w", err)
	}
	used, err := q.usedSlots()
	if err == nil {
		err = q.keys.keep(used)
	} else if q.gen > 0 {
		err = nil // damaged at once and quarantined at run time
	}
	if err != nil {
		q.keys.close()
		db.Close()
		return nil, fmt.Errorf("open queue: %w", err)
	}
	if missing {
		// Never a fresh key over records sealed under the lost one: the
		// queue records nothing until the key is back (Run looks for it).
		st, err := q.Stats()
		if err == nil && st.Depth+st.Dead+st.Undecryptable == 0 && quarantined == "" {
			if key, err = createKey(o.KeyFile); err == nil {
				err = q.useKey(key)
			}
			if err != nil {
				q.keys.close()
				db.Close()
				return nil, fmt.Errorf("open queue: %w", err)
			}
		} else {
			q.keyMissing.Store(true)
			q.raise(Alarm{At: o.Clock.Now(), Reason: fmt.Sprintf("queue key missing (%s): %d sealed records wait for it; nothing is recorded until it is back", o.KeyFile, st.Depth+st.Dead)})
		}
	}
	if quarantined != "" && !q.keyMissing.Load() {
		q.salvageFrom(quarantined)
	} else if quarantined != "" {
		q.restoreHours(quarantined)
	}
	q.needRebase.Store(true) // records of an earlier run may wait for it
	q.ensureReserve()
	go q.committer()
	return q, nil
}

// quarantinable tells damage (quarantine the file) from conditions that
// renaming would not fix or that would destroy a good file.
func quarantinable(err error) bool {
	switch {
	case errors.Is(err, berrors.ErrTimeout),
		errors.Is(err, fs.ErrPermission),
		errors.Is(err, syscall.ENOSPC),
		errors.Is(err, syscall.EROFS),
		errors.Is(err, syscall.ENOENT),
		errors.Is(err, syscall.EMFILE),
		errors.Is(err, syscall.ENFILE),
		errors.Is(err, syscall.ENOMEM):
		return false
	}
	return true
}

// setPanicOnFault turns a fault in the mapped file (a truncated file read
// past its end: SIGBUS) into a recoverable panic for the calling goroutine;
// the returned func restores the previous setting.
func setPanicOnFault() func() {
	old := debug.SetPanicOnFault(true)
	return func() { debug.SetPanicOnFault(old) }
}

// openChecked opens the bbolt file, creates the buckets and walks every
// page reachable from them, under recover: any panic or fault becomes an
// error wrapping ErrCorrupt.
func openChecked(path string, timeout time.Duration) (db *bolt.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			if db != nil {
				func() {
					defer func() { _ = recover() }()
					db.Close()
				}()
			}
			db, err = nil, fmt.Errorf("%w: %v", ErrCorrupt, r)
		}
	}()
	defer setPanicOnFault()()
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout})
	if err != nil {
		return nil, err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if err := walk(tx); err != nil {
			return err
		}
		return check(tx)
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// check runs bbolt's own consistency check (every page reachable or
// free, none twice, none past the end) after walk has read every page
// without a fault: a file that fails it would corrupt itself on a later
// write.
func check(tx *bolt.Tx) error {
	var first error
	for err := range tx.Check() {
		if first == nil {
			first = err
		}
	}
	if first != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, first)
	}
	return nil
}

// walk reads every key and value of every bucket, checks the key order and
// repairs the depth counter if it disagrees with the pending bucket.
func walk(tx *bolt.Tx) error {
	for _, name := range allBuckets {
		b := tx.Bucket(name)
		var prev []byte
		n := 0
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if prev != nil && string(k) <= string(prev) {
				return fmt.Errorf("%w: bucket %s: keys out of order", ErrCorrupt, name)
			}
			prev = append(prev[:0], k...)
			_ = len(v)
			n++
		}
		if string(name) == string(bucketPending) && n != depth(tx) {
			if err := setDepth(tx, n); err != nil {
				return err
			}
		}
	}
	return nil
}

// usedSlots returns the record key slots that stored records refer to.
func (q *Queue) usedSlots() (map[uint32]bool, error) {
	used := map[uint32]bool{}
	err := q.view(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketPending, bucketDead} {
			err := tx.Bucket(b).ForEach(func(_, v []byte) error {
				if string(b) == string(bucketDead) {
					var d deadRecord
					if json.Unmarshal(v, &d) == nil && d.slot() != noSlot {
						used[d.slot()] = true
					}
					return nil
				}
				if s := slotOf(v); s != noSlot {
					used[s] = true
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return tx.Bucket(bucketBad).ForEach(func(_, v []byte) error {
			if len(v) > 8 {
				if s := slotOf(v[8:]); s != noSlot {
					used[s] = true
				}
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("record keys in use: %w", err)
	}
	return used, nil
}

// useKey puts the device key in force: the sealer of old records and the
// root of the record keys.
func (q *Queue) useKey(key []byte) error {
	sl, err := newSealer(key)
	if err != nil {
		return err
	}
	q.dbMu.Lock()
	q.seal, q.master = sl, key
	q.keys.setMaster(key)
	q.dbMu.Unlock()
	q.keyMissing.Store(false)
	return nil
}

// findKey looks for the missing device key; when it is back the queue
// records again.
func (q *Queue) findKey() {
	if !q.keyMissing.Load() {
		return
	}
	key, err := loadKey(q.opts.KeyFile)
	if err != nil {
		return
	}
	if err := q.useKey(key); err != nil {
		q.log.Error("queue key found but unusable", "err", err)
		return
	}
	q.recordedAt.Store(q.events.Add(1)) // the alarm is over: it records again
	q.log.Warn("queue key is back: the queue records again")
}
