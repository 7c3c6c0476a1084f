package pg

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kipass/kipass/central"
	"github.com/kipass/kipass/central/api"
)

// paperSchema holds the paper-ledger tables: paper visits by KST day (the
// purge deletes the days it drops from scans) and the sheets devices report.
const paperSchema = `
CREATE TABLE IF NOT EXISTS paper_visits (
	id text NOT NULL,
	day date NOT NULL,
	facility text NOT NULL,
	device text NOT NULL,
	corrected_time timestamptz NOT NULL,
	received_at timestamptz NOT NULL,
	PRIMARY KEY (id, day));
CREATE INDEX IF NOT EXISTS paper_visits_facility_time ON paper_visits (facility, corrected_time);
CREATE TABLE IF NOT EXISTS ledger_sheets (
	facility text NOT NULL,
	device text NOT NULL,
	date date NOT NULL,
	entries integer NOT NULL,
	last_entry timestamptz,
	destroy_by date NOT NULL,
	shredded_at timestamptz,
	reported_at timestamptz NOT NULL,
	PRIMARY KEY (facility, device, date));
`

// IngestPaper implements central.LedgerStore.
func (s *Store) IngestPaper(ctx context.Context, visits []central.PaperVisit) ([]bool, error) {
	dup := make([]bool, len(visits))
	if len(visits) == 0 {
		return dup, nil
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, v := range visits {
			b.Queue(`INSERT INTO paper_visits (id, day, facility, device, corrected_time, received_at)
				VALUES ($1, $2::date, $3, $4, $5, $6) ON CONFLICT (id, day) DO NOTHING RETURNING true`,
				v.ID, central.Day(v.CorrectedTime).Format("2006-01-02"), v.Facility, v.Device, v.CorrectedTime, v.ReceivedAt)
		}
		br := tx.SendBatch(ctx, b)
		for i := range visits {
			var ok bool
			err := br.QueryRow().Scan(&ok)
			switch {
			case errors.Is(err, pgx.ErrNoRows):
				dup[i] = true
			case err != nil:
				br.Close()
				return err
			}
		}
		return br.Close()
	})
	if err != nil {
		return nil, classify(fmt.Sprintf("ingest %d paper visits", len(visits)), err)
	}
	return dup, nil
}

// PaperHourCounts implements central.LedgerStore.
func (s *Store) PaperHourCounts(ctx context.Context, facility string, from, to time.Time) ([]central.HourCount, error) {
	rows, err := s.pool.Query(ctx, `SELECT device, date_trunc('hour', corrected_time, 'UTC') AS h, count(*) FROM paper_visits
		WHERE facility = $1 AND corrected_time >= $2 AND corrected_time < $3
		GROUP BY 1, 2 ORDER BY 2, 1`, facility, from.Truncate(time.Hour), to)
	if err != nil {
		return nil, classify("paper hour counts", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (central.HourCount, error) {
		var h central.HourCount
		err := r.Scan(&h.Device, &h.Hour, &h.N)
		return h, err
	})
	return out, classify("paper hour counts", err)
}

// purgePaper deletes the paper visits of the days that ended at or before cutoff.
func (s *Store) purgePaper(ctx context.Context, cutoff time.Time) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM paper_visits WHERE day < $1::date`,
		central.Day(cutoff).Format("2006-01-02"))
	return classify("purge paper visits", err)
}

// PutSheets implements central.LedgerStore.
func (s *Store) PutSheets(ctx context.Context, facility, device string, sheets []api.Sheet, at time.Time) error {
	if len(sheets) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, sh := range sheets {
		b.Queue(`INSERT INTO ledger_sheets (facility, device, date, entries, last_entry, destroy_by, shredded_at, reported_at)
			VALUES ($1, $2, $3::date, $4, $5, $6::date, $7, $8)
			ON CONFLICT (facility, device, date) DO UPDATE SET entries = $4, last_entry = $5, destroy_by = $6::date,
				shredded_at = $7, reported_at = $8`,
			facility, device, sh.Date, sh.Entries, nullTime(sh.LastEntry), sh.DestroyBy, nullTime(sh.ShreddedAt), at)
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return tx.SendBatch(ctx, b).Close() })
	return classify("put sheets", err)
}

// Sheets implements central.LedgerStore.
func (s *Store) Sheets(ctx context.Context, facility string) ([]central.DeviceSheet, error) {
	rows, err := s.pool.Query(ctx, `SELECT facility, device, to_char(date, 'YYYY-MM-DD'), entries, last_entry,
			to_char(destroy_by, 'YYYY-MM-DD'), shredded_at, reported_at
		FROM ledger_sheets WHERE $1 = '' OR facility = $1 ORDER BY facility, device, date`, facility)
	if err != nil {
		return nil, classify("sheets", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (central.DeviceSheet, error) {
		var d central.DeviceSheet
		var last, shredded *time.Time
		err := r.Scan(&d.Facility, &d.Device, &d.Date, &d.Entries, &last, &d.DestroyBy, &shredded, &d.ReportedAt)
		d.LastEntry, d.ShreddedAt = deref(last), deref(shredded)
		return d, err
	})
	if out == nil {
		out = []central.DeviceSheet{}
	}
	return out, classify("sheets", err)
}
