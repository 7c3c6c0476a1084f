package pg_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kipass/kipass/central"
	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/central/pg/pgtest"
)

func scan(i int, facility string, at time.Time) central.Scan {
	return central.Scan{Scan: api.Scan{ID: fmt.Sprintf("id-%d", i), Facility: facility, Device: "D",
		DeviceTime: at, CorrectedTime: at, Token: fmt.Sprintf("tok-%d", i), Verdict: "verified"}, Fingerprint: fmt.Sprintf("fp-%d", i), ReceivedAt: at}
}

func TestAuditIsAppendOnly(t *testing.T) {
	st := pgtest.Open(t)
	ctx := context.Background()
	e, err := st.AppendAudit(ctx, api.AuditEntry{At: time.Now(), Authority: "kdca", Facility: "F", Purpose: "case 1", Records: 2})
	if err != nil || e.Seq != 1 {
		t.Fatalf("append: %+v %v", e, err)
	}
	for _, q := range []string{"UPDATE audit_log SET purpose = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log"} {
		if err := st.Exec(ctx, q); !errors.Is(err, central.ErrAppendOnly) {
			t.Fatalf("%s: %v", q, err)
		}
	}
	es, err := st.Audit(ctx)
	if err != nil || len(es) != 1 || es[0].Purpose != "case 1" {
		t.Fatalf("audit = %+v %v", es, err)
	}
}

func TestPurgeDropsPartitions(t *testing.T) {
	st := pgtest.Open(t)
	ctx := context.Background()
	day := time.Date(2026, 11, 1, 12, 0, 0, 0, api.KST)
	var scans []central.Scan
	for i := 0; i < 3; i++ {
		scans = append(scans, scan(i, "F", day.AddDate(0, 0, i)), scan(10+i, "F", day.AddDate(0, 0, i).Add(time.Hour)))
	}
	if _, err := st.Ingest(ctx, scans); err != nil {
		t.Fatal(err)
	}
	parts, err := st.Partitions(ctx)
	if err != nil || len(parts) != 3 || !parts[0].Equal(central.Day(day)) {
		t.Fatalf("partitions = %v %v", parts, err)
	}
	// The cutoff inside the second day: only the first day has ended.
	n, err := st.Purge(ctx, day.AddDate(0, 0, 1))
	if err != nil || n != 2 {
		t.Fatalf("purge = %d %v", n, err)
	}
	parts, _ = st.Partitions(ctx)
	if len(parts) != 2 || !parts[0].Equal(central.Day(day.AddDate(0, 0, 1))) {
		t.Fatalf("partitions after purge = %v", parts)
	}
	// The day can be written again later (its partition is recreated).
	if _, err := st.Ingest(ctx, []central.Scan{scan(99, "F", day)}); err != nil {
		t.Fatal(err)
	}
	if c, _ := st.ScanCount(ctx); c != 5 {
		t.Fatalf("count = %d", c)
	}
}

// Two central servers on one database ingest overlapping batches at once:
// every scan is stored once (stateless ingest behind a load balancer).
func TestTwoServersIngestOnce(t *testing.T) {
	dsn := pgtest.Schema(t)
	a, b := pgtest.OpenDSN(t, dsn), pgtest.OpenDSN(t, dsn)
	ctx := context.Background()
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, api.KST)
	const n = 400
	var wg sync.WaitGroup
	dups := make([]int, 4)
	errs := make([]error, 4)
	for w, st := range []*struct{ s central.Store }{{a}, {b}, {a}, {b}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i += 50 {
				var batch []central.Scan
				for j := i; j < i+50; j++ {
					batch = append(batch, scan(j, "F", at.Add(time.Duration(j)*time.Second)))
				}
				res, err := st.s.Ingest(ctx, batch)
				if err != nil {
					errs[w] = err
					return
				}
				for _, r := range res {
					if r.Duplicate {
						dups[w]++
					}
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	c, err := a.ScanCount(ctx)
	if err != nil || c != n || dups[0]+dups[1]+dups[2]+dups[3] != 3*n {
		t.Fatalf("count %d, duplicates %v", c, dups)
	}
}

// A database made before credential rotation (no pending column) is
// upgraded in place when the new central opens it: its credentials keep
// working and can be rotated.
func TestUpgradeAddsPendingColumn(t *testing.T) {
	dsn := pgtest.Schema(t)
	old := pgtest.OpenDSN(t, dsn)
	ctx := context.Background()
	now := time.Now()
	if err := old.Exec(ctx, "ALTER TABLE credentials DROP COLUMN pending"); err != nil {
		t.Fatal(err)
	}
	if err := old.Exec(ctx, `INSERT INTO credentials (hash, role, facility, subject, name, created_at)
		VALUES ('h-old', 'device', 'F', 'D-1', '', now())`); err != nil {
		t.Fatal(err)
	}
	st := pgtest.OpenDSN(t, dsn) // the upgraded central
	c, err := st.Credential(ctx, "h-old")
	if err != nil || c.Subject != "D-1" || c.Pending || !c.RevokedAt.IsZero() {
		t.Fatalf("credential after upgrade: %+v %v", c, err)
	}
	if err := st.RotateCredential(ctx, central.Credential{Hash: "h-new", Role: central.RoleDevice, Facility: "F", Subject: "D-1", CreatedAt: now}, now); err != nil {
		t.Fatal(err)
	}
	if err := st.ConfirmCredential(ctx, "h-new", now); err != nil {
		t.Fatal(err)
	}
	if c, err := st.Credential(ctx, "h-old"); err != nil || c.RevokedAt.IsZero() {
		t.Fatalf("old credential after the rotation was used: %+v %v", c, err)
	}
}
