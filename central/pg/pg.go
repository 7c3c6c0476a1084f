// Package pg is central's PostgreSQL store: the same Store as the embedded
// bbolt file, for deployments with several ingest servers. Scans live in a
// table partitioned by the KST day of their corrected time; the 28-day
// destruction drops whole partitions. The audit log refuses UPDATE, DELETE
// and TRUNCATE through a trigger.
//
// testdb.sh in this folder starts a throwaway server for the tests.
package pg

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/kipass/kipass/central"
	"github.com/kipass/kipass/central/api"
)

// schema creates the tables; it is idempotent.
const schema = `
CREATE TABLE IF NOT EXISTS facilities (
	id text PRIMARY KEY,
	business_number text NOT NULL,
	name text NOT NULL,
	representative text NOT NULL,
	phone text NOT NULL,
	address text NOT NULL,
	address_key text NOT NULL,
	business_type text NOT NULL,
	high_risk boolean NOT NULL,
	status text NOT NULL,
	created_at timestamptz NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS facilities_branch ON facilities (business_number, address_key) WHERE business_number <> '';
CREATE TABLE IF NOT EXISTS credentials (
	hash text PRIMARY KEY,
	role text NOT NULL,
	facility text NOT NULL,
	subject text NOT NULL,
	name text NOT NULL DEFAULT '',
	created_at timestamptz NOT NULL,
	revoked_at timestamptz);
CREATE INDEX IF NOT EXISTS credentials_subject ON credentials (facility, subject);
ALTER TABLE credentials ADD COLUMN IF NOT EXISTS pending boolean NOT NULL DEFAULT false;
CREATE TABLE IF NOT EXISTS enrollment_codes (
	hash text PRIMARY KEY,
	facility text NOT NULL,
	entrance text NOT NULL,
	created_at timestamptz NOT NULL,
	expires_at timestamptz NOT NULL,
	used_at timestamptz,
	device text NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS devices (
	facility text NOT NULL,
	id text NOT NULL,
	name text NOT NULL DEFAULT '',
	entrance text NOT NULL DEFAULT '',
	enrolled boolean NOT NULL DEFAULT false,
	enrolled_at timestamptz,
	last_seen timestamptz,
	queue_depth integer NOT NULL DEFAULT 0,
	oldest_unsent_s double precision NOT NULL DEFAULT 0,
	clock_offset_ms bigint NOT NULL DEFAULT 0,
	clock_skew_ms bigint NOT NULL DEFAULT 0,
	camera text NOT NULL DEFAULT '',
	version text NOT NULL DEFAULT '',
	PRIMARY KEY (facility, id));
CREATE TABLE IF NOT EXISTS scans (
	id text NOT NULL,
	day date NOT NULL,
	facility text NOT NULL,
	device text NOT NULL,
	device_time timestamptz NOT NULL,
	corrected_time timestamptz NOT NULL,
	token text NOT NULL,
	fingerprint text NOT NULL,
	verdict text NOT NULL,
	received_at timestamptz NOT NULL,
	copy boolean NOT NULL,
	repeat boolean NOT NULL DEFAULT false,
	time_from_token boolean NOT NULL DEFAULT false,
	PRIMARY KEY (id, day)) PARTITION BY RANGE (day);
ALTER TABLE scans ADD COLUMN IF NOT EXISTS repeat boolean NOT NULL DEFAULT false;
ALTER TABLE scans ADD COLUMN IF NOT EXISTS time_from_token boolean NOT NULL DEFAULT false;
ALTER TABLE devices ADD COLUMN IF NOT EXISTS scanner text NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS scans_facility_time ON scans (facility, corrected_time);
CREATE INDEX IF NOT EXISTS scans_fingerprint ON scans (fingerprint, day);
CREATE TABLE IF NOT EXISTS audit_log (
	seq bigserial PRIMARY KEY,
	at timestamptz NOT NULL,
	authority text NOT NULL,
	facility text NOT NULL,
	from_time timestamptz NOT NULL,
	to_time timestamptz NOT NULL,
	purpose text NOT NULL,
	records integer NOT NULL);
CREATE TABLE IF NOT EXISTS verdicts (
	fingerprint text PRIMARY KEY,
	verdict text NOT NULL,
	reason text NOT NULL DEFAULT '',
	at timestamptz NOT NULL);
CREATE INDEX IF NOT EXISTS verdicts_at ON verdicts (at);
CREATE INDEX IF NOT EXISTS facilities_number ON facilities (business_number);
CREATE TABLE IF NOT EXISTS notices (
	id text PRIMARY KEY,
	facility text NOT NULL,
	branch text NOT NULL,
	phone text NOT NULL,
	representative text NOT NULL,
	text text NOT NULL,
	created_at timestamptz NOT NULL,
	sent_at timestamptz,
	attempts integer NOT NULL DEFAULT 0,
	last_error text NOT NULL DEFAULT '');
CREATE OR REPLACE FUNCTION kipass_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS
	$$ BEGIN RAISE EXCEPTION 'audit log is append-only' USING ERRCODE = 'KP001'; END $$;
CREATE OR REPLACE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION kipass_audit_append_only();
`

// lockKey serialises schema and partition changes between central servers
// sharing one database (pg_advisory_xact_lock).
const lockKey = 0x4b495041 // "KIPA"

// Store is the PostgreSQL central.Store.
type Store struct {
	pool *pgxpool.Pool

	mu   sync.Mutex
	days map[string]bool // partitions known to exist, by YYYYMMDD
}

var _ central.Store = (*Store)(nil)

// Open connects to PostgreSQL (a libpq connection string or URL; the
// tables go into the first schema of its search_path) and creates the
// tables when missing.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	s := &Store{pool: pool, days: map[string]bool{}}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, schema+paperSchema)
		return err
	})
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres: create tables: %w", err)
	}
	return s, nil
}

// Close closes the connection pool.
func (s *Store) Close() error { s.pool.Close(); return nil }

// classify maps PostgreSQL errors to central's sentinels.
func classify(op string, err error) error {
	var pe *pgconn.PgError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("%s: %w", op, central.ErrNotFound)
	case errors.As(err, &pe) && pe.Code == "23505":
		return fmt.Errorf("%s: %w", op, central.ErrConflict)
	case errors.As(err, &pe) && pe.Code == "KP001":
		return fmt.Errorf("%s: %w", op, central.ErrAppendOnly)
	}
	return fmt.Errorf("%s: %w", op, err)
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

const facilityCols = `id, business_number, name, representative, phone, address, business_type, high_risk, status, created_at`

func scanFacility(row pgx.Row) (api.Facility, error) {
	var f api.Facility
	err := row.Scan(&f.ID, &f.BusinessNumber, &f.Name, &f.Representative, &f.Phone, &f.Address, &f.BusinessType, &f.HighRisk, &f.Status, &f.CreatedAt)
	return f, err
}

// CreateFacility implements central.Store.
func (s *Store) CreateFacility(ctx context.Context, f api.Facility, m central.Credential, notices ...central.Notice) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO facilities (`+facilityCols+`, address_key) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)`,
			f.ID, f.BusinessNumber, f.Name, f.Representative, f.Phone, f.Address, f.BusinessType, f.HighRisk, f.Status, f.CreatedAt, central.AddressKey(f.Address))
		if err != nil {
			return err
		}
		for _, n := range notices {
			if _, err := tx.Exec(ctx, `INSERT INTO notices (id, facility, branch, phone, representative, text, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7)`,
				n.ID, n.Facility, n.Branch, n.Phone, n.Representative, n.Text, n.CreatedAt); err != nil {
				return err
			}
		}
		return insertCredential(ctx, tx, m)
	})
	return classify("create facility", err)
}

// FacilitiesByNumber implements central.Store.
func (s *Store) FacilitiesByNumber(ctx context.Context, number string) ([]api.Facility, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+facilityCols+` FROM facilities WHERE business_number = $1 AND $1 <> '' ORDER BY created_at, id`, number)
	if err != nil {
		return nil, classify("facilities by number", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (api.Facility, error) { return scanFacility(r) })
	if out == nil {
		out = []api.Facility{}
	}
	return out, classify("facilities by number", err)
}

// Notices implements central.Store.
func (s *Store) Notices(ctx context.Context, unsent bool, limit int) ([]central.Notice, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, facility, branch, phone, representative, text, created_at, sent_at, attempts, last_error
		FROM notices WHERE NOT $1 OR sent_at IS NULL ORDER BY id LIMIT $2`, unsent, limit)
	if err != nil {
		return nil, classify("notices", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (central.Notice, error) {
		var n central.Notice
		var sent *time.Time
		err := r.Scan(&n.ID, &n.Facility, &n.Branch, &n.Phone, &n.Representative, &n.Text, &n.CreatedAt, &sent, &n.Attempts, &n.LastError)
		n.SentAt = deref(sent)
		return n, err
	})
	if out == nil {
		out = []central.Notice{}
	}
	return out, classify("notices", err)
}

// UpdateNotice implements central.Store.
func (s *Store) UpdateNotice(ctx context.Context, n central.Notice) error {
	tag, err := s.pool.Exec(ctx, `UPDATE notices SET sent_at = $2, attempts = $3, last_error = $4 WHERE id = $1`,
		n.ID, nullTime(n.SentAt), n.Attempts, n.LastError)
	if err == nil && tag.RowsAffected() == 0 {
		err = pgx.ErrNoRows
	}
	return classify("update notice", err)
}

// Facility implements central.Store.
func (s *Store) Facility(ctx context.Context, id string) (api.Facility, error) {
	f, err := scanFacility(s.pool.QueryRow(ctx, `SELECT `+facilityCols+` FROM facilities WHERE id = $1`, id))
	return f, classify("facility", err)
}

// Facilities implements central.Store.
func (s *Store) Facilities(ctx context.Context, status string) ([]api.Facility, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+facilityCols+` FROM facilities WHERE $1 = '' OR status = $1 ORDER BY created_at, id`, status)
	if err != nil {
		return nil, classify("facilities", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (api.Facility, error) { return scanFacility(r) })
	if out == nil {
		out = []api.Facility{}
	}
	return out, classify("facilities", err)
}

// SetFacilityStatus implements central.Store.
func (s *Store) SetFacilityStatus(ctx context.Context, id, status string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE facilities SET status = $2 WHERE id = $1`, id, status)
	if err == nil && tag.RowsAffected() == 0 {
		err = pgx.ErrNoRows
	}
	return classify("set facility status", err)
}

func insertCredential(ctx context.Context, tx pgx.Tx, c central.Credential) error {
	_, err := tx.Exec(ctx, `INSERT INTO credentials (hash, role, facility, subject, name, created_at, revoked_at, pending) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`,
		c.Hash, string(c.Role), c.Facility, c.Subject, c.Name, c.CreatedAt, nullTime(c.RevokedAt), c.Pending)
	return err
}

// AddCredential implements central.Store.
func (s *Store) AddCredential(ctx context.Context, c central.Credential) error {
	return classify("add credential", pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return insertCredential(ctx, tx, c) }))
}

const credentialCols = `hash, role, facility, subject, name, created_at, revoked_at, pending`

func scanCredential(row pgx.Row) (central.Credential, error) {
	var c central.Credential
	var role string
	var revoked *time.Time
	err := row.Scan(&c.Hash, &role, &c.Facility, &c.Subject, &c.Name, &c.CreatedAt, &revoked, &c.Pending)
	c.Role, c.RevokedAt = central.Role(role), deref(revoked)
	return c, err
}

// Credential implements central.Store.
func (s *Store) Credential(ctx context.Context, hash string) (central.Credential, error) {
	c, err := scanCredential(s.pool.QueryRow(ctx, `SELECT `+credentialCols+` FROM credentials WHERE hash = $1`, hash))
	return c, classify("credential", err)
}

// Credentials implements central.Store.
func (s *Store) Credentials(ctx context.Context, facility string, role central.Role) ([]central.Credential, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+credentialCols+` FROM credentials
		WHERE facility = $1 AND role = $2 AND revoked_at IS NULL ORDER BY created_at, subject`, facility, string(role))
	if err != nil {
		return nil, classify("credentials", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (central.Credential, error) { return scanCredential(r) })
	return out, classify("credentials", err)
}

// RevokeCredential implements central.Store.
func (s *Store) RevokeCredential(ctx context.Context, facility, subject string, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE credentials SET revoked_at = $3 WHERE facility = $1 AND subject = $2 AND revoked_at IS NULL`,
		facility, subject, at)
	if err == nil && tag.RowsAffected() == 0 {
		err = pgx.ErrNoRows
	}
	return classify("revoke credential", err)
}

// RotateCredential implements central.Store.
func (s *Store) RotateCredential(ctx context.Context, c central.Credential, at time.Time) error {
	return classify("rotate credential", pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE credentials SET revoked_at = $3
			WHERE facility = $1 AND subject = $2 AND pending AND revoked_at IS NULL`, c.Facility, c.Subject, at); err != nil {
			return err
		}
		c.Pending = true
		return insertCredential(ctx, tx, c)
	}))
}

// ConfirmCredential implements central.Store.
func (s *Store) ConfirmCredential(ctx context.Context, hash string, at time.Time) error {
	return classify("confirm credential", pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var facility, subject string
		err := tx.QueryRow(ctx, `UPDATE credentials SET pending = false WHERE hash = $1 AND revoked_at IS NULL
			RETURNING facility, subject`, hash).Scan(&facility, &subject)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE credentials SET revoked_at = $4
			WHERE facility = $1 AND subject = $2 AND hash <> $3 AND revoked_at IS NULL`, facility, subject, hash, at)
		return err
	}))
}

// AddCode implements central.Store.
func (s *Store) AddCode(ctx context.Context, c central.Code) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO enrollment_codes (hash, facility, entrance, created_at, expires_at) VALUES ($1,$2,$3,$4,$5)`,
		c.Hash, c.Facility, c.Entrance, c.CreatedAt, c.ExpiresAt)
	return classify("add code", err)
}

// Enroll implements central.Store.
func (s *Store) Enroll(ctx context.Context, codeHash string, d api.Device, c central.Credential, now time.Time) (central.Code, error) {
	var code central.Code
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var used *time.Time
		err := tx.QueryRow(ctx, `SELECT hash, facility, entrance, created_at, expires_at, used_at, device
			FROM enrollment_codes WHERE hash = $1 FOR UPDATE`, codeHash).
			Scan(&code.Hash, &code.Facility, &code.Entrance, &code.CreatedAt, &code.ExpiresAt, &used, &code.Device)
		if err != nil {
			return err
		}
		switch {
		case used != nil:
			return central.ErrCodeUsed
		case !now.Before(code.ExpiresAt):
			return central.ErrCodeExpired
		}
		code.UsedAt, code.Device = now, d.ID
		if _, err := tx.Exec(ctx, `UPDATE enrollment_codes SET used_at = $2, device = $3 WHERE hash = $1`, codeHash, now, d.ID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO devices (facility, id, name, entrance, enrolled, enrolled_at) VALUES ($1,$2,$3,$4,true,$5)`,
			code.Facility, d.ID, d.Name, code.Entrance, nullTime(d.EnrolledAt)); err != nil {
			return err
		}
		c.Facility = code.Facility
		return insertCredential(ctx, tx, c)
	})
	if err != nil {
		return central.Code{}, classify("enroll", err)
	}
	return code, nil
}

// Devices implements central.Store.
func (s *Store) Devices(ctx context.Context, facility string) ([]api.Device, error) {
	rows, err := s.pool.Query(ctx, `SELECT facility, id, name, entrance, enrolled, enrolled_at, last_seen, queue_depth,
		oldest_unsent_s, clock_offset_ms, clock_skew_ms, camera, scanner, version FROM devices
		WHERE $1 = '' OR facility = $1 ORDER BY facility, id`, facility)
	if err != nil {
		return nil, classify("devices", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (api.Device, error) {
		var d api.Device
		var enrolled, seen *time.Time
		err := r.Scan(&d.Facility, &d.ID, &d.Name, &d.Entrance, &d.Enrolled, &enrolled, &seen, &d.QueueDepth,
			&d.OldestUnsentSeconds, &d.ClockOffsetMillis, &d.ClockSkewMillis, &d.Camera, &d.Scanner, &d.Version)
		d.EnrolledAt, d.LastSeen = deref(enrolled), deref(seen)
		return d, err
	})
	if out == nil {
		out = []api.Device{}
	}
	return out, classify("devices", err)
}

// SetEntrance implements central.Store.
func (s *Store) SetEntrance(ctx context.Context, facility, device, entrance string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE devices SET entrance = $3 WHERE facility = $1 AND id = $2`, facility, device, entrance)
	if err == nil && tag.RowsAffected() == 0 {
		err = pgx.ErrNoRows
	}
	return classify("set entrance", err)
}

// RemoveDevice implements central.Store.
func (s *Store) RemoveDevice(ctx context.Context, facility, device string, at time.Time) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM devices WHERE facility = $1 AND id = $2`, facility, device)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return pgx.ErrNoRows
		}
		_, err = tx.Exec(ctx, `UPDATE credentials SET revoked_at = $3 WHERE facility = $1 AND subject = $2 AND revoked_at IS NULL`,
			facility, device, at)
		return err
	})
	return classify("remove device", err)
}

// PutHeartbeat implements central.Store.
func (s *Store) PutHeartbeat(ctx context.Context, d api.Device) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO devices (facility, id, last_seen, queue_depth, oldest_unsent_s, clock_offset_ms, clock_skew_ms, camera, scanner, version)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)
		ON CONFLICT (facility, id) DO UPDATE SET last_seen = $3, queue_depth = $4, oldest_unsent_s = $5,
			clock_offset_ms = $6, clock_skew_ms = $7, camera = $8, scanner = $9, version = $10`,
		d.Facility, d.ID, d.LastSeen, d.QueueDepth, d.OldestUnsentSeconds, d.ClockOffsetMillis, d.ClockSkewMillis, d.Camera, d.Scanner, d.Version)
	return classify("heartbeat", err)
}

// partition names a day's partition.
func partition(day time.Time) string { return "scans_" + day.Format("20060102") }

var partitionName = regexp.MustCompile(`^scans_(\d{8})$`)

// ensurePartitions creates the partitions of the given days when missing.
func (s *Store) ensurePartitions(ctx context.Context, days []time.Time) error {
	var missing []time.Time
	s.mu.Lock()
	for _, d := range days {
		if !s.days[d.Format("20060102")] {
			missing = append(missing, d)
		}
	}
	s.mu.Unlock()
	if len(missing) == 0 {
		return nil
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey); err != nil {
			return err
		}
		for _, d := range missing {
			q := fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s PARTITION OF scans FOR VALUES FROM ('%s') TO ('%s')`,
				partition(d), d.Format("2006-01-02"), d.AddDate(0, 0, 1).Format("2006-01-02"))
			if _, err := tx.Exec(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("create partitions: %w", err)
	}
	s.mu.Lock()
	for _, d := range missing {
		s.days[d.Format("20060102")] = true
	}
	s.mu.Unlock()
	return nil
}

// ingestSQL stores one scan unless its id is stored on its day, with the
// copy flag (the token stored at another facility) and the repeat flag (at
// this facility, by another device) looked up over every day from $11 to
// $12.
const ingestSQL = `WITH prior AS (
		SELECT coalesce(bool_or(facility <> $3), false) AS copy, coalesce(bool_or(facility = $3), false) AS repeat
		FROM scans WHERE fingerprint = $8 AND day BETWEEN $11::date AND $12::date)
	INSERT INTO scans (id, day, facility, device, device_time, corrected_time, token, fingerprint, verdict, received_at, copy, repeat, time_from_token)
	SELECT $1, $2::date, $3, $4, $5, $6, $7, $8, $9, $10, prior.copy, prior.repeat, $13 FROM prior
	ON CONFLICT (id, day) DO NOTHING RETURNING copy, repeat`

// Ingest implements central.Store: one transaction, one pipelined insert
// per scan.
func (s *Store) Ingest(ctx context.Context, scans []central.Scan) ([]central.Ingested, error) {
	out := make([]central.Ingested, len(scans))
	if len(scans) == 0 {
		return out, nil
	}
	var days []time.Time
	for _, sc := range scans {
		days = append(days, central.Day(sc.CorrectedTime))
	}
	if err := s.ensurePartitions(ctx, days); err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for i, sc := range scans {
			from, to := sc.SeenFrom, sc.SeenTo
			if from.IsZero() || to.IsZero() {
				from, to = sc.CorrectedTime, sc.CorrectedTime
			}
			b.Queue(ingestSQL, sc.ID, days[i].Format("2006-01-02"), sc.Facility, sc.Device, sc.DeviceTime, sc.CorrectedTime,
				sc.Token, sc.Fingerprint, sc.Verdict, sc.ReceivedAt,
				central.Day(from).Format("2006-01-02"), central.Day(to).Format("2006-01-02"), sc.TimeFromToken)
		}
		br := tx.SendBatch(ctx, b)
		for i := range scans {
			err := br.QueryRow().Scan(&out[i].Copy, &out[i].Repeat)
			switch {
			case errors.Is(err, pgx.ErrNoRows):
				out[i].Duplicate = true
			case err != nil:
				br.Close()
				return err
			}
		}
		return br.Close()
	})
	if err != nil {
		return nil, classify(fmt.Sprintf("ingest %d scans", len(scans)), err)
	}
	return out, nil
}

// HourCounts implements central.Store.
func (s *Store) HourCounts(ctx context.Context, facility string, from, to time.Time) ([]central.HourCount, error) {
	rows, err := s.pool.Query(ctx, `SELECT device, date_trunc('hour', corrected_time, 'UTC') AS h, count(*), count(*) FILTER (WHERE repeat) FROM scans
		WHERE facility = $1 AND corrected_time >= $2 AND corrected_time < $3 AND day BETWEEN $4::date AND $5::date
		GROUP BY 1, 2 ORDER BY 2, 1`,
		facility, from.Truncate(time.Hour), to, central.Day(from).Format("2006-01-02"), central.Day(to).Format("2006-01-02"))
	if err != nil {
		return nil, classify("hour counts", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (central.HourCount, error) {
		var h central.HourCount
		err := r.Scan(&h.Device, &h.Hour, &h.N, &h.Repeats)
		return h, err
	})
	return out, classify("hour counts", err)
}

// Export implements central.Store.
func (s *Store) Export(ctx context.Context, facility string, from, to time.Time) ([]central.Scan, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, facility, device, device_time, corrected_time, token, fingerprint, verdict, received_at, copy, repeat, time_from_token
		FROM scans WHERE facility = $1 AND corrected_time >= $2 AND corrected_time < $3 AND day BETWEEN $4::date AND $5::date
		ORDER BY corrected_time, id`,
		facility, from, to, central.Day(from).Format("2006-01-02"), central.Day(to).Format("2006-01-02"))
	if err != nil {
		return nil, classify("export", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (central.Scan, error) {
		var sc central.Scan
		err := r.Scan(&sc.ID, &sc.Facility, &sc.Device, &sc.DeviceTime, &sc.CorrectedTime, &sc.Token, &sc.Fingerprint, &sc.Verdict, &sc.ReceivedAt, &sc.Copy,
			&sc.Repeat, &sc.TimeFromToken)
		return sc, err
	})
	if out == nil {
		out = []central.Scan{}
	}
	return out, classify("export", err)
}

// Partitions lists the days that have a partition, oldest first.
func (s *Store) Partitions(ctx context.Context) ([]time.Time, error) {
	rows, err := s.pool.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'scans'::regclass ORDER BY c.relname`)
	if err != nil {
		return nil, classify("partitions", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, classify("partitions", err)
	}
	var out []time.Time
	for _, n := range names {
		m := partitionName.FindStringSubmatch(n)
		if m == nil {
			continue
		}
		d, err := time.ParseInLocation("20060102", m[1], api.KST)
		if err == nil {
			out = append(out, d)
		}
	}
	return out, nil
}

// Purge implements central.Store: it drops the partition of every day that
// ended at or before cutoff.
func (s *Store) Purge(ctx context.Context, cutoff time.Time) (int, error) {
	days, err := s.Partitions(ctx)
	if err != nil {
		return 0, fmt.Errorf("purge: %w", err)
	}
	n := 0
	for _, d := range days {
		if d.AddDate(0, 0, 1).After(cutoff) {
			continue
		}
		var rows int
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey); err != nil {
				return err
			}
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+partition(d)).Scan(&rows); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `DROP TABLE `+partition(d))
			return err
		})
		if err != nil {
			return n, classify("purge", err)
		}
		s.mu.Lock()
		delete(s.days, d.Format("20060102"))
		s.mu.Unlock()
		n += rows
	}
	if err := s.purgePaper(ctx, cutoff); err != nil {
		return n, err
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM verdicts WHERE at < $1`, cutoff); err != nil {
		return n, classify("purge verdicts", err)
	}
	return n, nil
}

// Scan implements central.Store.
func (s *Store) Scan(ctx context.Context, id string) (central.Scan, error) {
	var sc central.Scan
	err := s.pool.QueryRow(ctx, `SELECT id, facility, device, device_time, corrected_time, token, fingerprint, verdict, received_at, copy, repeat, time_from_token
		FROM scans WHERE id = $1 ORDER BY day DESC LIMIT 1`, id).
		Scan(&sc.ID, &sc.Facility, &sc.Device, &sc.DeviceTime, &sc.CorrectedTime, &sc.Token, &sc.Fingerprint, &sc.Verdict, &sc.ReceivedAt, &sc.Copy,
			&sc.Repeat, &sc.TimeFromToken)
	return sc, classify("scan", err)
}

// GiveVerdicts implements central.Store.
func (s *Store) GiveVerdicts(ctx context.Context, vs []central.GivenVerdict) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, v := range vs {
			b.Queue(`INSERT INTO verdicts (fingerprint, verdict, reason, at) VALUES ($1,$2,$3,$4)
				ON CONFLICT (fingerprint) DO UPDATE SET verdict = $2, reason = $3, at = $4`, v.Fingerprint, v.Verdict, v.Reason, v.At)
		}
		return tx.SendBatch(ctx, b).Close()
	})
	return classify("give verdicts", err)
}

// GivenVerdict implements central.Store.
func (s *Store) GivenVerdict(ctx context.Context, fingerprint string) (central.GivenVerdict, error) {
	g := central.GivenVerdict{Fingerprint: fingerprint}
	err := s.pool.QueryRow(ctx, `SELECT verdict, reason, at FROM verdicts WHERE fingerprint = $1`, fingerprint).Scan(&g.Verdict, &g.Reason, &g.At)
	return g, classify("given verdict", err)
}

// ScanCount implements central.Store.
func (s *Store) ScanCount(ctx context.Context) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM scans`).Scan(&n)
	return n, classify("scan count", err)
}

// AppendAudit implements central.Store.
func (s *Store) AppendAudit(ctx context.Context, e api.AuditEntry) (api.AuditEntry, error) {
	err := s.pool.QueryRow(ctx, `INSERT INTO audit_log (at, authority, facility, from_time, to_time, purpose, records)
		VALUES ($1,$2,$3,$4,$5,$6,$7) RETURNING seq`, e.At, e.Authority, e.Facility, e.From, e.To, e.Purpose, e.Records).Scan(&e.Seq)
	return e, classify("audit", err)
}

// Audit implements central.Store.
func (s *Store) Audit(ctx context.Context) ([]api.AuditEntry, error) {
	rows, err := s.pool.Query(ctx, `SELECT seq, at, authority, facility, from_time, to_time, purpose, records FROM audit_log ORDER BY seq`)
	if err != nil {
		return nil, classify("audit", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (api.AuditEntry, error) {
		var e api.AuditEntry
		err := r.Scan(&e.Seq, &e.At, &e.Authority, &e.Facility, &e.From, &e.To, &e.Purpose, &e.Records)
		return e, err
	})
	if out == nil {
		out = []api.AuditEntry{}
	}
	return out, classify("audit", err)
}

// Exec runs a statement; tests use it to try to tamper with the audit log.
func (s *Store) Exec(ctx context.Context, sql string) error {
	_, err := s.pool.Exec(ctx, sql)
	return classify("exec", err)
}
