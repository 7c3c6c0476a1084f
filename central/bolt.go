package central

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/kipass/kipass/central/api"
	bolt "go.etcd.io/bbolt"
)

// The bbolt layout. Scans live in one bucket per KST day ("d20261122"),
// each with the scans by id, the token fingerprints (fingerprint \0
// facility) and the hourly counts (facility \0 device \0 hour): purging a
// day deletes its bucket, like dropping a PostgreSQL partition.
var (
	bFacilities  = []byte("facilities")  // id -> api.Facility
	bBranches    = []byte("branches")    // business number \0 address key -> id
	bCredentials = []byte("credentials") // hash -> Credential
	bCodes       = []byte("codes")       // hash -> Code
	bDevices     = []byte("devices")     // facility \0 device -> api.Device
	bAudit       = []byte("audit")       // seq (8 bytes) -> api.AuditEntry
	bDays        = []byte("days")        // "d" YYYYMMDD -> {scans, prints, hours}
	bVerdicts    = []byte("verdicts")    // token fingerprint -> GivenVerdict
	bNotices     = []byte("notices")     // notice id -> Notice (the outbox)
	bScans       = []byte("scans")
	bPrints      = []byte("prints")
	bHours       = []byte("hours")
)

// BoltStore is the embedded Store: one bbolt file. A purge that destroys
// a day rewrites the file with only the live records (compaction) and
// replaces it, so that no token of a purged day stays readable in the
// file's freed pages.
type BoltStore struct {
	path string
	mu   sync.RWMutex // held for reading by every transaction, for writing while the file is replaced
	db   *bolt.DB
}

func (s *BoltStore) view(f func(*bolt.Tx) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return errClosed
	}
	return s.db.View(f)
}

func (s *BoltStore) update(f func(*bolt.Tx) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return errClosed
	}
	return s.db.Update(f)
}

var errClosed = errors.New("central store is closed")

// compactSuffix names the file a compaction writes before it replaces the store.
const compactSuffix = ".compact"

// compact rewrites the store file with only its live records and replaces
// the old file with it. Transactions wait meanwhile.
func (s *BoltStore) compact() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return errClosed
	}
	tmp := s.path + compactSuffix
	os.Remove(tmp)
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	if err := bolt.Compact(dst, s.db, 64<<20); err != nil {
		dst.Close()
		os.Remove(tmp)
		return fmt.Errorf("compact: %w", err)
	}
	if err := dst.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("compact: %w", err)
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	s.db = nil
	rerr := os.Rename(tmp, s.path)
	if rerr == nil {
		if d, err := os.Open(filepath.Dir(s.path)); err == nil {
			d.Sync()
			d.Close()
		}
	}
	db, err := bolt.Open(s.path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return fmt.Errorf("compact: reopen %s: %w", s.path, err)
	}
	s.db = db
	if rerr != nil {
		os.Remove(tmp)
		return fmt.Errorf("compact: %w", rerr)
	}
	return nil
}

var _ Store = (*BoltStore)(nil)

// OpenBolt opens (or creates) a bbolt store at path.
func OpenBolt(path string) (*BoltStore, error) {
	os.Remove(path + compactSuffix) // an interrupted compaction; the store itself is whole
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("open central store %s: %w: another kipass-central (or another program) holds it; stop that one or give another --data directory", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open central store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bFacilities, bBranches, bCredentials, bCodes, bDevices, bAudit, bDays, bVerdicts, bNotices} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open central store %s: %w", path, err)
	}
	return &BoltStore{path: path, db: db}, nil
}

// Close closes the file.
func (s *BoltStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return nil
	}
	err := s.db.Close()
	s.db = nil
	return err
}

func put(b *bolt.Bucket, k []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(k, data)
}

func get(b *bolt.Bucket, k []byte, v any) error {
	data := b.Get(k)
	if data == nil {
		return ErrNotFound
	}
	return json.Unmarshal(data, v)
}

func key(parts ...string) []byte {
	var b bytes.Buffer
	for i, p := range parts {
		if i > 0 {
			b.WriteByte(0)
		}
		b.WriteString(p)
	}
	return b.Bytes()
}

func dayKey(t time.Time) []byte { return []byte("d" + Day(t).Format("20060102")) }

// CreateFacility implements Store.
func (s *BoltStore) CreateFacility(_ context.Context, f api.Facility, manager Credential, notices ...Notice) error {
	return s.update(func(tx *bolt.Tx) error {
		fac := tx.Bucket(bFacilities)
		if fac.Get([]byte(f.ID)) != nil {
			return fmt.Errorf("facility %s: %w", f.ID, ErrConflict)
		}
		if f.BusinessNumber != "" {
			br := tx.Bucket(bBranches)
			k := key(f.BusinessNumber, AddressKey(f.Address))
			if br.Get(k) != nil {
				return fmt.Errorf("branch with this business number and address: %w", ErrConflict)
			}
			if err := br.Put(k, []byte(f.ID)); err != nil {
				return err
			}
		}
		if err := put(fac, []byte(f.ID), f); err != nil {
			return err
		}
		for _, n := range notices {
			if err := put(tx.Bucket(bNotices), []byte(n.ID), n); err != nil {
				return err
			}
		}
		return put(tx.Bucket(bCredentials), []byte(manager.Hash), manager)
	})
}

// FacilitiesByNumber implements Store.
func (s *BoltStore) FacilitiesByNumber(ctx context.Context, number string) ([]api.Facility, error) {
	all, err := s.Facilities(ctx, "")
	if err != nil {
		return nil, err
	}
	out := []api.Facility{}
	for _, f := range all {
		if number != "" && f.BusinessNumber == number {
			out = append(out, f)
		}
	}
	return out, nil
}

// Notices implements Store.
func (s *BoltStore) Notices(_ context.Context, unsent bool, limit int) ([]Notice, error) {
	out := []Notice{}
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bNotices).Cursor()
		for k, v := c.First(); k != nil && len(out) < limit; k, v = c.Next() {
			var n Notice
			if err := json.Unmarshal(v, &n); err != nil {
				return err
			}
			if !unsent || n.SentAt.IsZero() {
				out = append(out, n)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("notices: %w", err)
	}
	return out, nil
}

// UpdateNotice implements Store.
func (s *BoltStore) UpdateNotice(_ context.Context, n Notice) error {
	return s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bNotices)
		if b.Get([]byte(n.ID)) == nil {
			return fmt.Errorf("notice %s: %w", n.ID, ErrNotFound)
		}
		return put(b, []byte(n.ID), n)
	})
}

// Facility implements Store.
func (s *BoltStore) Facility(_ context.Context, id string) (api.Facility, error) {
	var f api.Facility
	err := s.view(func(tx *bolt.Tx) error { return get(tx.Bucket(bFacilities), []byte(id), &f) })
	if err != nil {
		return api.Facility{}, fmt.Errorf("facility: %w", err)
	}
	return f, nil
}

// Facilities implements Store.
func (s *BoltStore) Facilities(_ context.Context, status string) ([]api.Facility, error) {
	out := []api.Facility{}
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bFacilities).ForEach(func(_, v []byte) error {
			var f api.Facility
			if err := json.Unmarshal(v, &f); err != nil {
				return err
			}
			if status == "" || f.Status == status {
				out = append(out, f)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("facilities: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

// SetFacilityStatus implements Store.
func (s *BoltStore) SetFacilityStatus(_ context.Context, id, status string) error {
	return s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bFacilities)
		var f api.Facility
		if err := get(b, []byte(id), &f); err != nil {
			return fmt.Errorf("facility: %w", err)
		}
		f.Status = status
		return put(b, []byte(id), f)
	})
}

// AddCredential implements Store.
func (s *BoltStore) AddCredential(_ context.Context, c Credential) error {
	return s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bCredentials)
		if b.Get([]byte(c.Hash)) != nil {
			return ErrConflict
		}
		return put(b, []byte(c.Hash), c)
	})
}

// Credential implements Store.
func (s *BoltStore) Credential(_ context.Context, hash string) (Credential, error) {
	var c Credential
	err := s.view(func(tx *bolt.Tx) error { return get(tx.Bucket(bCredentials), []byte(hash), &c) })
	if err != nil {
		return Credential{}, fmt.Errorf("credential: %w", err)
	}
	return c, nil
}

// Credentials implements Store.
func (s *BoltStore) Credentials(_ context.Context, facility string, role Role) ([]Credential, error) {
	var out []Credential
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bCredentials).ForEach(func(_, v []byte) error {
			var c Credential
			if err := json.Unmarshal(v, &c); err != nil {
				return err
			}
			if c.Facility == facility && c.Role == role && c.RevokedAt.IsZero() {
				out = append(out, c)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

// revoke marks the active credentials of facility/subject revoked; it
// reports whether there was one.
func revoke(tx *bolt.Tx, facility, subject string, at time.Time) (bool, error) {
	b := tx.Bucket(bCredentials)
	var found []Credential
	err := b.ForEach(func(_, v []byte) error {
		var c Credential
		if err := json.Unmarshal(v, &c); err != nil {
			return err
		}
		if c.Facility == facility && c.Subject == subject && c.RevokedAt.IsZero() {
			found = append(found, c)
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	for _, c := range found {
		c.RevokedAt = at
		if err := put(b, []byte(c.Hash), c); err != nil {
			return false, err
		}
	}
	return len(found) > 0, nil
}

// RevokeCredential implements Store.
func (s *BoltStore) RevokeCredential(_ context.Context, facility, subject string, at time.Time) error {
	return s.update(func(tx *bolt.Tx) error {
		ok, err := revoke(tx, facility, subject, at)
		if err == nil && !ok {
			err = fmt.Errorf("credential of %s: %w", subject, ErrNotFound)
		}
		return err
	})
}

// subjectCredentials returns the credentials of facility/subject that
// keep returns true for.
func subjectCredentials(tx *bolt.Tx, facility, subject string, keep func(Credential) bool) ([]Credential, error) {
	var out []Credential
	err := tx.Bucket(bCredentials).ForEach(func(_, v []byte) error {
		var c Credential
		if err := json.Unmarshal(v, &c); err != nil {
			return err
		}
		if c.Facility == facility && c.Subject == subject && keep(c) {
			out = append(out, c)
		}
		return nil
	})
	return out, err
}

// RotateCredential implements Store.
func (s *BoltStore) RotateCredential(_ context.Context, c Credential, at time.Time) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bCredentials)
		unused, err := subjectCredentials(tx, c.Facility, c.Subject, func(o Credential) bool { return o.Pending && o.RevokedAt.IsZero() })
		if err != nil {
			return err
		}
		for _, o := range unused {
			o.RevokedAt = at
			if err := put(b, []byte(o.Hash), o); err != nil {
				return err
			}
		}
		if b.Get([]byte(c.Hash)) != nil {
			return ErrConflict
		}
		c.Pending = true
		return put(b, []byte(c.Hash), c)
	})
}

// ConfirmCredential implements Store.
func (s *BoltStore) ConfirmCredential(_ context.Context, hash string, at time.Time) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bCredentials)
		var c Credential
		if err := get(b, []byte(hash), &c); err != nil {
			return fmt.Errorf("credential: %w", err)
		}
		if !c.RevokedAt.IsZero() {
			return fmt.Errorf("credential revoked: %w", ErrNotFound)
		}
		others, err := subjectCredentials(tx, c.Facility, c.Subject, func(o Credential) bool { return o.Hash != hash && o.RevokedAt.IsZero() })
		if err != nil {
			return err
		}
		for _, o := range others {
			o.RevokedAt = at
			if err := put(b, []byte(o.Hash), o); err != nil {
				return err
			}
		}
		c.Pending = false
		return put(b, []byte(hash), c)
	})
}

// AddCode implements Store.
func (s *BoltStore) AddCode(_ context.Context, c Code) error {
	return s.update(func(tx *bolt.Tx) error { return put(tx.Bucket(bCodes), []byte(c.Hash), c) })
}

// Enroll implements Store.
func (s *BoltStore) Enroll(_ context.Context, codeHash string, d api.Device, c Credential, now time.Time) (Code, error) {
	var code Code
	err := s.update(func(tx *bolt.Tx) error {
		codes := tx.Bucket(bCodes)
		if err := get(codes, []byte(codeHash), &code); err != nil {
			return fmt.Errorf("enrollment code: %w", err)
		}
		switch {
		case !code.UsedAt.IsZero():
			return ErrCodeUsed
		case !now.Before(code.ExpiresAt):
			return ErrCodeExpired
		}
		code.UsedAt, code.Device = now, d.ID
		if err := put(codes, []byte(codeHash), code); err != nil {
			return err
		}
		d.Facility, d.Entrance = code.Facility, code.Entrance
		if err := put(tx.Bucket(bDevices), key(d.Facility, d.ID), d); err != nil {
			return err
		}
		c.Facility = code.Facility
		return put(tx.Bucket(bCredentials), []byte(c.Hash), c)
	})
	if err != nil {
		return Code{}, err
	}
	return code, nil
}

// Devices implements Store.
func (s *BoltStore) Devices(_ context.Context, facility string) ([]api.Device, error) {
	out := []api.Device{}
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bDevices).Cursor()
		prefix := []byte{}
		if facility != "" {
			prefix = key(facility, "")
		}
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var d api.Device
			if err := json.Unmarshal(v, &d); err != nil {
				return err
			}
			out = append(out, d)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("devices: %w", err)
	}
	return out, nil
}

func (s *BoltStore) updateDevice(facility, device string, f func(*api.Device) error) error {
	return s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bDevices)
		var d api.Device
		if err := get(b, key(facility, device), &d); err != nil {
			return fmt.Errorf("device: %w", err)
		}
		if err := f(&d); err != nil {
			return err
		}
		return put(b, key(facility, device), d)
	})
}

// SetEntrance implements Store.
func (s *BoltStore) SetEntrance(_ context.Context, facility, device, entrance string) error {
	return s.updateDevice(facility, device, func(d *api.Device) error { d.Entrance = entrance; return nil })
}

// RemoveDevice implements Store.
func (s *BoltStore) RemoveDevice(_ context.Context, facility, device string, at time.Time) error {
	return s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bDevices)
		if b.Get(key(facility, device)) == nil {
			return fmt.Errorf("device: %w", ErrNotFound)
		}
		if err := b.Delete(key(facility, device)); err != nil {
			return err
		}
		_, err := revoke(tx, facility, device, at)
		return err
	})
}

// PutHeartbeat implements Store.
func (s *BoltStore) PutHeartbeat(_ context.Context, hb api.Device) error {
	return s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bDevices)
		var d api.Device
		if err := get(b, key(hb.Facility, hb.ID), &d); err != nil {
			d = api.Device{Facility: hb.Facility, ID: hb.ID}
		}
		d.LastSeen, d.QueueDepth, d.OldestUnsentSeconds = hb.LastSeen, hb.QueueDepth, hb.OldestUnsentSeconds
		d.ClockOffsetMillis, d.ClockSkewMillis, d.Camera, d.Scanner, d.Version = hb.ClockOffsetMillis, hb.ClockSkewMillis, hb.Camera, hb.Scanner, hb.Version
		return put(b, key(d.Facility, d.ID), d)
	})
}

// Ingest implements Store.
func (s *BoltStore) Ingest(_ context.Context, scans []Scan) ([]Ingested, error) {
	out := make([]Ingested, len(scans))
	err := s.update(func(tx *bolt.Tx) error {
		days := tx.Bucket(bDays)
		for i, sc := range scans {
			day, err := days.CreateBucketIfNotExists(dayKey(sc.CorrectedTime))
			if err != nil {
				return err
			}
			sb, err := day.CreateBucketIfNotExists(bScans)
			if err != nil {
				return err
			}
			if sb.Get([]byte(sc.ID)) != nil {
				out[i].Duplicate = true
				continue
			}
			// A copy: the same token at another facility; a repeat: at
			// this facility, by another device. Every day on which a scan
			// of this token can lie is looked at.
			from, to := sc.SeenFrom, sc.SeenTo
			if from.IsZero() || to.IsZero() {
				from, to = sc.CorrectedTime, sc.CorrectedTime
			}
			dc := days.Cursor()
			p := key(sc.Fingerprint, "")
			for dk, _ := dc.Seek(dayKey(from)); dk != nil && bytes.Compare(dk, dayKey(to)) <= 0; dk, _ = dc.Next() {
				pb := days.Bucket(dk).Bucket(bPrints)
				if pb == nil {
					continue
				}
				c := pb.Cursor()
				for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Next() {
					if string(k[len(p):]) != sc.Facility {
						out[i].Copy = true
					} else {
						out[i].Repeat = true
					}
				}
			}
			sc.Copy, sc.Repeat = out[i].Copy, out[i].Repeat
			if err := put(sb, []byte(sc.ID), sc); err != nil {
				return err
			}
			pb, err := day.CreateBucketIfNotExists(bPrints)
			if err != nil {
				return err
			}
			if err := pb.Put(key(sc.Fingerprint, sc.Facility), nil); err != nil {
				return err
			}
			if err := bumpHour(day, bHours, sc.Facility, sc.Device, sc.CorrectedTime, sc.Repeat); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ingest %d scans: %w", len(scans), err)
	}
	return out, nil
}

// eachDay calls f with the bucket of every stored KST day overlapping [from, to).
func eachDay(tx *bolt.Tx, from, to time.Time, f func(day time.Time, b *bolt.Bucket) error) error {
	c := tx.Bucket(bDays).Cursor()
	for k, _ := c.Seek(dayKey(from)); k != nil && bytes.Compare(k, dayKey(to)) <= 0; k, _ = c.Next() {
		d, err := time.ParseInLocation("20060102", string(k[1:]), api.KST)
		if err != nil {
			continue
		}
		if err := f(d, tx.Bucket(bDays).Bucket(k)); err != nil {
			return err
		}
	}
	return nil
}

// HourCounts implements Store.
func (s *BoltStore) HourCounts(_ context.Context, facility string, from, to time.Time) ([]HourCount, error) {
	out, err := s.readHours(bHours, facility, from, to)
	if err != nil {
		return nil, fmt.Errorf("hour counts: %w", err)
	}
	return out, nil
}

// Export implements Store.
func (s *BoltStore) Export(_ context.Context, facility string, from, to time.Time) ([]Scan, error) {
	out := []Scan{}
	err := s.view(func(tx *bolt.Tx) error {
		return eachDay(tx, from, to, func(_ time.Time, b *bolt.Bucket) error {
			sb := b.Bucket(bScans)
			if sb == nil {
				return nil
			}
			return sb.ForEach(func(_, v []byte) error {
				var sc Scan
				if err := json.Unmarshal(v, &sc); err != nil {
					return err
				}
				if sc.Facility == facility && !sc.CorrectedTime.Before(from) && sc.CorrectedTime.Before(to) {
					out = append(out, sc)
				}
				return nil
			})
		})
	})
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CorrectedTime.Before(out[j].CorrectedTime) })
	return out, nil
}

// Purge implements Store: it deletes the bucket of every day that ended at
// or before cutoff, then compacts the file so that their records are gone
// from it, not just freed.
func (s *BoltStore) Purge(_ context.Context, cutoff time.Time) (int, error) {
	n, dropped := 0, 0
	err := s.update(func(tx *bolt.Tx) error {
		days := tx.Bucket(bDays)
		var drop [][]byte
		c := days.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			d, err := time.ParseInLocation("20060102", string(k[1:]), api.KST)
			if err != nil || d.AddDate(0, 0, 1).After(cutoff) {
				continue
			}
			drop = append(drop, append([]byte(nil), k...))
		}
		for _, k := range drop {
			if sb := days.Bucket(k).Bucket(bScans); sb != nil {
				n += sb.Stats().KeyN
			}
			if err := days.DeleteBucket(k); err != nil {
				return err
			}
		}
		vb := tx.Bucket(bVerdicts)
		var old [][]byte
		err := vb.ForEach(func(k, v []byte) error {
			var g GivenVerdict
			if json.Unmarshal(v, &g) != nil || g.At.Before(cutoff) {
				old = append(old, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range old {
			if err := vb.Delete(k); err != nil {
				return err
			}
		}
		dropped = len(drop)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("purge: %w", err)
	}
	if dropped > 0 {
		// The deleted days' pages are only freed: rewrite the file
		// without them.
		if err := s.compact(); err != nil {
			return n, fmt.Errorf("purge: %w", err)
		}
	}
	return n, nil
}

// ScanCount implements Store.
func (s *BoltStore) ScanCount(_ context.Context) (int, error) {
	n := 0
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bDays).ForEachBucket(func(k []byte) error {
			if sb := tx.Bucket(bDays).Bucket(k).Bucket(bScans); sb != nil {
				n += sb.Stats().KeyN
			}
			return nil
		})
	})
	return n, err
}

// AppendAudit implements Store.
func (s *BoltStore) AppendAudit(_ context.Context, e api.AuditEntry) (api.AuditEntry, error) {
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bAudit)
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		e.Seq = int64(seq)
		return put(b, binary.BigEndian.AppendUint64(nil, seq), e)
	})
	if err != nil {
		return api.AuditEntry{}, fmt.Errorf("audit: %w", err)
	}
	return e, nil
}

// Audit implements Store.
func (s *BoltStore) Audit(_ context.Context) ([]api.AuditEntry, error) {
	out := []api.AuditEntry{}
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bAudit).ForEach(func(_, v []byte) error {
			var e api.AuditEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			out = append(out, e)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return out, nil
}

// Scan implements Store.
func (s *BoltStore) Scan(_ context.Context, id string) (Scan, error) {
	var sc Scan
	found := false
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bDays).Cursor()
		for k, _ := c.Last(); k != nil && !found; k, _ = c.Prev() {
			sb := tx.Bucket(bDays).Bucket(k).Bucket(bScans)
			if sb == nil {
				continue
			}
			if v := sb.Get([]byte(id)); v != nil {
				found = true
				return json.Unmarshal(v, &sc)
			}
		}
		return nil
	})
	if err == nil && !found {
		err = ErrNotFound
	}
	if err != nil {
		return Scan{}, fmt.Errorf("scan: %w", err)
	}
	return sc, nil
}

// GiveVerdicts implements Store.
func (s *BoltStore) GiveVerdicts(_ context.Context, vs []GivenVerdict) error {
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bVerdicts)
		for _, v := range vs {
			if err := put(b, []byte(v.Fingerprint), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("give verdicts: %w", err)
	}
	return nil
}

// GivenVerdict implements Store.
func (s *BoltStore) GivenVerdict(_ context.Context, fingerprint string) (GivenVerdict, error) {
	var g GivenVerdict
	err := s.view(func(tx *bolt.Tx) error { return get(tx.Bucket(bVerdicts), []byte(fingerprint), &g) })
	if err != nil {
		return GivenVerdict{}, fmt.Errorf("given verdict: %w", err)
	}
	return g, nil
}
