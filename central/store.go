package central

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/kipass/kipass/central/api"
	bolt "go.etcd.io/bbolt"
)

var (
	bucketScans = []byte("scans")        // scan id -> storedScan JSON
	bucketHours = []byte("hours")        // facility \x00 YYYYMMDDHH -> uint64 count
	bucketPrint = []byte("fingerprints") // token fingerprint -> facility
)

// storedScan is what central keeps of a scan: facility, device, time and the
// opaque token, nothing else.
type storedScan struct {
	Facility      string    `json:"facility"`
	Device        string    `json:"device"`
	DeviceTime    time.Time `json:"device_time"`
	CorrectedTime time.Time `json:"corrected_time"`
	Token         string    `json:"token"`
	Verdict       string    `json:"verdict"`
	ReceivedAt    time.Time `json:"received_at"`
	Copy          bool      `json:"copy,omitempty"`
}

// store is central's bbolt file.
type store struct {
	db *bolt.DB
}

func openStore(path string) (*store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open central store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketScans, bucketHours, bucketPrint} {
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
	return &store{db: db}, nil
}

func hourKey(facility string, t time.Time) []byte {
	return []byte(facility + "\x00" + t.In(api.KST).Format("2006010215"))
}

// ingestItem is one validated scan ready to store.
type ingestItem struct {
	scan        api.Scan
	fingerprint string
}

// ingest stores the accepted items of a batch in one transaction, so a batch
// is written whole or not at all. It returns, per item, whether it was new
// and whether it is a copy of a token seen at another facility.
func (s *store) ingest(items []ingestItem, now time.Time) (dup, copies []bool, err error) {
	dup = make([]bool, len(items))
	copies = make([]bool, len(items))
	err = s.db.Update(func(tx *bolt.Tx) error {
		scans, hours, prints := tx.Bucket(bucketScans), tx.Bucket(bucketHours), tx.Bucket(bucketPrint)
		for i, it := range items {
			sc := it.scan
			if scans.Get([]byte(sc.ID)) != nil {
				dup[i] = true
				continue
			}
			if f := prints.Get([]byte(it.fingerprint)); f != nil && string(f) != sc.Facility {
				copies[i] = true
			} else if f == nil {
				if err := prints.Put([]byte(it.fingerprint), []byte(sc.Facility)); err != nil {
					return err
				}
			}
			v, err := json.Marshal(storedScan{
				Facility: sc.Facility, Device: sc.Device, DeviceTime: sc.DeviceTime,
				CorrectedTime: sc.CorrectedTime, Token: sc.Token, Verdict: sc.Verdict,
				ReceivedAt: now, Copy: copies[i],
			})
			if err != nil {
				return err
			}
			if err := scans.Put([]byte(sc.ID), v); err != nil {
				return err
			}
			hk := hourKey(sc.Facility, sc.CorrectedTime)
			var n uint64
			if b := hours.Get(hk); len(b) == 8 {
				n = binary.BigEndian.Uint64(b)
			}
			nb := make([]byte, 8)
			binary.BigEndian.PutUint64(nb, n+1)
			if err := hours.Put(hk, nb); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("ingest %d scans: %w", len(items), err)
	}
	return dup, copies, nil
}

// counts returns the hourly visit counts of one facility on one KST day.
func (s *store) counts(facility string, day time.Time) (api.Counts, error) {
	c := api.Counts{Facility: facility, Date: day.Format("2006-01-02")}
	err := s.db.View(func(tx *bolt.Tx) error {
		hours := tx.Bucket(bucketHours)
		for h := 0; h < 24; h++ {
			t := time.Date(day.Year(), day.Month(), day.Day(), h, 0, 0, 0, api.KST)
			if b := hours.Get(hourKey(facility, t)); len(b) == 8 {
				c.Hours[h] = int(binary.BigEndian.Uint64(b))
				c.Total += c.Hours[h]
			}
		}
		return nil
	})
	if err != nil {
		return api.Counts{}, fmt.Errorf("counts: %w", err)
	}
	return c, nil
}

// scanCount returns how many scans are stored.
func (s *store) scanCount() (int, error) {
	var n int
	err := s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketScans).Stats().KeyN
		return nil
	})
	return n, err
}

func (s *store) close() error { return s.db.Close() }
