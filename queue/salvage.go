package queue

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A damaged file is quarantined — renamed to PATH.corrupt-TIME with its
// record keys (PATH.corrupt-TIME.keys) — and replaced by a fresh queue,
// at Open or as soon as a transaction finds the damage at run time. It is
// salvaged at once: every pending record that can still be read (its
// pages walk, its token opens) is put into the fresh queue with its own
// times, so it is delivered, and every readable dead letter goes back to
// the dead letters with its reason, so it can still be resent. What cannot be read stays in the quarantined
// file, which the purge destroys 28 days after it first saw it on trusted
// time (every scan in it is older than that sighting).

// quarantineLive quarantines the file at run time, unless the generation
// gen was already replaced; it salvages what it can.
func (q *Queue) quarantineLive(gen int, cause string) error {
	q.dbMu.Lock()
	if q.gen != gen {
		q.dbMu.Unlock()
		return nil
	}
	func() {
		defer func() { _ = recover() }()
		q.db.Close()
	}()
	q.keys.close()
	to, err := q.quarantine()
	if err == nil {
		q.db, err = openChecked(q.path, q.opts.OpenTimeout)
	}
	if err == nil {
		q.keys, err = openKeyring(q.opts.RecordKeys, q.master)
	}
	if err == nil {
		err = q.keys.keep(nil)
	}
	if err != nil {
		q.dbMu.Unlock()
		return fmt.Errorf("quarantine at run time: %w", err)
	}
	q.gen++
	q.dbMu.Unlock()
	q.raise(Alarm{At: q.opts.Clock.Now(), Reason: "queue file damaged at run time (" + cause + "); quarantined and replaced by an empty queue", QuarantinedTo: to})
	q.salvageFrom(to)
	return nil
}

// quarantine renames the queue file and its record keys aside. The caller
// holds dbMu (or is Open) and has closed them.
func (q *Queue) quarantine() (string, error) {
	to := q.path + ".corrupt-" + q.opts.Clock.Now().UTC().Format("20060102T150405.000Z")
	if err := os.Rename(q.path, to); err != nil {
		return "", fmt.Errorf("quarantine %s: %w", q.path, err)
	}
	if err := os.Rename(q.opts.RecordKeys, to+".keys"); err != nil && !os.IsNotExist(err) {
		return to, fmt.Errorf("quarantine record keys: %w", err)
	}
	return to, nil
}

// salvageFrom puts every readable pending record of the quarantined file
// at path into the queue, and every readable dead letter back among the
// dead letters, with their own times, and logs the counts.
func (q *Queue) salvageFrom(path string) {
	q.restoreHours(path)
	recs, unread := q.readQuarantined(path)
	q.unread.Add(int64(unread))
	put, dead := 0, 0
	for _, s := range recs {
		if err := q.restore(s); err != nil {
			q.log.Error("salvage: a readable record could not be put back; it stays in the quarantined file", "err", err)
			continue
		}
		if s.dead != nil {
			dead++
		} else {
			put++
		}
	}
	q.log.Warn("salvaged the quarantined queue file: readable records queued again",
		"file", filepath.Base(path), "salvaged", put, "dead_letters", dead, "unreadable", unread)
}

// salvaged is a readable record of a quarantined file.
type salvaged struct {
	s    storedRecord
	tok  string
	dead *deadRecord // a dead letter: its reason and rejection time
}

// readQuarantined reads the pending records of a quarantined file under
// recover; unread counts the ones it could not.
func (q *Queue) readQuarantined(path string) (out []salvaged, unread int) {
	kr, err := openKeyring(path+".keys", q.master)
	if err != nil {
		return nil, 0
	}
	defer kr.close()
	open := func(s storedRecord) (string, error) {
		sl := q.seal
		if s.KeySlot != 0 {
			var err error
			if sl, err = kr.sealer(s.KeySlot - 1); err != nil {
				return "", err
			}
		}
		return sl.open(s.ID, s.Sealed)
	}
	walked := false
	func() {
		defer func() {
			if recover() != nil {
				unread++
			}
		}()
		defer setPanicOnFault()()
		db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
		if err != nil {
			return
		}
		defer db.Close()
		db.View(func(tx *bolt.Tx) error {
			if b := tx.Bucket(bucketPending); b != nil {
				c := b.Cursor()
				for k, v := c.First(); k != nil; k, v = c.Next() {
					s, err := decodeStored(v)
					if err != nil {
						unread++
						continue
					}
					tok, err := open(s)
					if err != nil {
						unread++
						continue
					}
					out = append(out, salvaged{s: s, tok: tok})
				}
			}
			if b := tx.Bucket(bucketDead); b != nil {
				c := b.Cursor()
				for k, v := c.First(); k != nil; k, v = c.Next() {
					var d deadRecord
					if err := json.Unmarshal(v, &d); err != nil || d.ID == "" {
						unread++
						continue
					}
					tok, err := open(d.storedRecord)
					if err != nil {
						unread++
						continue
					}
					out = append(out, salvaged{s: d.storedRecord, tok: tok, dead: &d})
				}
			}
			walked = true
			return nil
		})
	}()
	if walked {
		return out, unread
	}
	// The file's pages cannot be walked (meta pages, truncation): read the
	// records from its raw bytes. Old versions of a record share its id and
	// key; records already delivered have their keys zeroed (or central
	// already has them: sending again is harmless).
	raw, err := os.ReadFile(path)
	if err != nil {
		return out, unread
	}
	seen := map[string]bool{}
	for _, r := range out {
		seen[r.s.ID] = true
	}
	for i := 0; ; {
		j := bytes.Index(raw[i:], []byte(`{"id":"`))
		if j < 0 {
			break
		}
		i += j
		var d deadRecord // a pending record, or a dead letter with its reason
		err := json.NewDecoder(bytes.NewReader(raw[i:])).Decode(&d)
		i++
		s := d.storedRecord
		if err != nil || s.ID == "" || seen[s.ID] || len(s.Sealed) == 0 {
			continue
		}
		tok, err := open(s)
		if err != nil {
			continue
		}
		seen[s.ID] = true
		r := salvaged{s: s, tok: tok}
		if !d.RejectedAt.IsZero() {
			r.dead = &d
		}
		out = append(out, r)
	}
	return out, unread
}

// restore puts a salvaged record back into the pending queue, or a dead
// letter back among the dead letters, with its own times and basis, sealed
// under a fresh record key. A record already pending or dead (same id) is
// left alone.
func (q *Queue) restore(r salvaged) error {
	var kr *keyring
	var slot uint32 = noSlot
	added := false
	err := q.update(func(tx *bolt.Tx) error {
		kr, added = q.keys, false
		ids, p, dead := tx.Bucket(bucketIDs), tx.Bucket(bucketPending), tx.Bucket(bucketDead)
		if k := ids.Get([]byte(r.s.ID)); k != nil && p.Get(k) != nil || dead.Get([]byte(r.s.ID)) != nil {
			return nil
		}
		s, sl, err := q.keys.take()
		if err != nil {
			return err
		}
		slot = s
		st := r.s
		if st.Sealed, err = sl.seal(st.ID, r.tok); err != nil {
			return err
		}
		st.KeySlot = s + 1
		if r.dead != nil {
			d := *r.dead
			d.storedRecord = st
			dv, err := json.Marshal(d)
			if err != nil {
				return err
			}
			added = true
			return dead.Put([]byte(st.ID), dv)
		}
		v, err := storedValue(st)
		if err != nil {
			return err
		}
		seq, err := p.NextSequence()
		if err != nil {
			return err
		}
		if err := p.Put(u64(seq), v); err != nil {
			return err
		}
		if err := ids.Put([]byte(st.ID), u64(seq)); err != nil {
			return err
		}
		added = true
		return setDepth(tx, depth(tx)+1)
	})
	if (err != nil || !added) && kr != nil && slot != noSlot {
		kr.shred([]uint32{slot})
	}
	if err == nil && added && r.s.ClockBasis == BasisUntrusted {
		q.needRebase.Store(true)
	}
	return err
}

// quarantinedFiles lists the quarantined queue files beside the queue.
func (q *Queue) quarantinedFiles() []string {
	m, _ := filepath.Glob(q.path + ".corrupt-*")
	var out []string
	for _, f := range m {
		if !strings.HasSuffix(f, ".keys") {
			out = append(out, f)
		}
	}
	return out
}
