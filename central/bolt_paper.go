package central

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/kipass/kipass/central/api"
	bolt "go.etcd.io/bbolt"
)

// Paper visits live in the KST day bucket beside the scans, so the purge
// of a day destroys them too; sheets live in their own bucket.
var (
	bPaper      = []byte("paper")      // in a day: id -> PaperVisit
	bPaperHours = []byte("paperhours") // in a day: facility \0 device \0 hour -> count
	bSheets     = []byte("sheets")     // facility \0 device \0 date -> DeviceSheet
)

// IngestPaper implements LedgerStore.
func (s *BoltStore) IngestPaper(_ context.Context, visits []PaperVisit) ([]bool, error) {
	dup := make([]bool, len(visits))
	err := s.update(func(tx *bolt.Tx) error {
		for i, v := range visits {
			day, err := tx.Bucket(bDays).CreateBucketIfNotExists(dayKey(v.CorrectedTime))
			if err != nil {
				return err
			}
			pb, err := day.CreateBucketIfNotExists(bPaper)
			if err != nil {
				return err
			}
			if pb.Get([]byte(v.ID)) != nil {
				dup[i] = true
				continue
			}
			if err := put(pb, []byte(v.ID), v); err != nil {
				return err
			}
			if err := bumpHour(day, bPaperHours, v.Facility, v.Device, v.CorrectedTime, false); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ingest %d paper visits: %w", len(visits), err)
	}
	return dup, nil
}

// PaperHourCounts implements LedgerStore.
func (s *BoltStore) PaperHourCounts(_ context.Context, facility string, from, to time.Time) ([]HourCount, error) {
	out, err := s.readHours(bPaperHours, facility, from, to)
	if err != nil {
		return nil, fmt.Errorf("paper hour counts: %w", err)
	}
	return out, nil
}

// bumpHour adds one to the count of facility and device in the hour (KST)
// holding at, kept in the day's sub-bucket name. The hour's value is the
// count (8 bytes) and the repeats among it (8 bytes).
func bumpHour(day *bolt.Bucket, name []byte, facility, device string, at time.Time, repeat bool) error {
	hb, err := day.CreateBucketIfNotExists(name)
	if err != nil {
		return err
	}
	hk := key(facility, device, at.In(api.KST).Format("15"))
	v := make([]byte, 16)
	copy(v, hb.Get(hk))
	binary.BigEndian.PutUint64(v, binary.BigEndian.Uint64(v)+1)
	if repeat {
		binary.BigEndian.PutUint64(v[8:], binary.BigEndian.Uint64(v[8:])+1)
	}
	return hb.Put(hk, v)
}

// readHours reads the hourly counts of a facility kept in the day
// sub-bucket name, for the hours overlapping [from, to). An hour written
// before repeats were counted has an 8-byte value.
func (s *BoltStore) readHours(name []byte, facility string, from, to time.Time) ([]HourCount, error) {
	var out []HourCount
	err := s.view(func(tx *bolt.Tx) error {
		return eachDay(tx, from, to, func(day time.Time, b *bolt.Bucket) error {
			hb := b.Bucket(name)
			if hb == nil {
				return nil
			}
			c := hb.Cursor()
			p := key(facility, "")
			for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
				rest := k[len(p):]
				j := bytes.LastIndexByte(rest, 0)
				if j < 0 || len(v) != 8 && len(v) != 16 {
					continue
				}
				var rep int
				if len(v) == 16 {
					rep = int(binary.BigEndian.Uint64(v[8:]))
				}
				var h int
				fmt.Sscanf(string(rest[j+1:]), "%d", &h)
				at := day.Add(time.Duration(h) * time.Hour)
				if at.Before(from.Truncate(time.Hour)) || !at.Before(to) {
					continue
				}
				out = append(out, HourCount{Device: string(rest[:j]), Hour: at, N: int(binary.BigEndian.Uint64(v)), Repeats: rep})
			}
			return nil
		})
	})
	return out, err
}

// PutSheets implements LedgerStore.
func (s *BoltStore) PutSheets(_ context.Context, facility, device string, sheets []api.Sheet, at time.Time) error {
	err := s.update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bSheets)
		if err != nil {
			return err
		}
		for _, sh := range sheets {
			if err := put(b, key(facility, device, sh.Date), DeviceSheet{Facility: facility, Device: device, Sheet: sh, ReportedAt: at}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("put sheets: %w", err)
	}
	return nil
}

// Sheets implements LedgerStore.
func (s *BoltStore) Sheets(_ context.Context, facility string) ([]DeviceSheet, error) {
	out := []DeviceSheet{}
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bSheets)
		if b == nil {
			return nil
		}
		var p []byte
		if facility != "" {
			p = key(facility, "")
		}
		c := b.Cursor()
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			var d DeviceSheet
			if err := json.Unmarshal(v, &d); err != nil {
				return err
			}
			out = append(out, d)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sheets: %w", err)
	}
	return out, nil
}
