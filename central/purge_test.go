package central_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kipass/kipass/central"
	"github.com/kipass/kipass/central/api"
)

// TestPurgedTokensGoneFromBoltFile reads the raw bbolt file as an auditor
// would after the 28-day purge: not one token of a purged day is left in
// it, not even in freed pages, while the kept day's tokens are there.
func TestPurgedTokensGoneFromBoltFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "central.db")
	st, err := central.OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	old := time.Date(2026, 10, 20, 12, 0, 0, 0, api.KST)
	kept := old.AddDate(0, 0, 1)
	mk := func(i int, at time.Time) central.Scan {
		tok := fmt.Sprintf("KP1:PURGETEST%06dX%s", i, at.Format("20060102"))
		return central.Scan{Scan: api.Scan{ID: fmt.Sprintf("%032x", i), Facility: "F-1", Device: "D-1", DeviceTime: at, CorrectedTime: at, Token: tok, Verdict: "verified"}, Fingerprint: fmt.Sprintf("fp%d", i), ReceivedAt: at}
	}
	var purged, live []string
	for b := 0; b < 3; b++ { // three batches, so the day spans many pages and transactions
		var batch []central.Scan
		for i := b * 100; i < (b+1)*100; i++ {
			sc := mk(i, old.Add(time.Duration(i)*time.Second))
			purged = append(purged, sc.Token)
			batch = append(batch, sc)
		}
		if _, err := st.Ingest(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1000; i < 1010; i++ {
		sc := mk(i, kept.Add(time.Duration(i)*time.Second))
		live = append(live, sc.Token)
		if _, err := st.Ingest(ctx, []central.Scan{sc}); err != nil {
			t.Fatal(err)
		}
	}
	raw := func() []byte {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if b := raw(); !bytes.Contains(b, []byte(purged[0])) {
		t.Fatal("the test cannot see tokens in the raw file before the purge")
	}
	n, err := st.Purge(ctx, central.Day(kept))
	if err != nil || n != 300 {
		t.Fatalf("purge = %d %v", n, err)
	}
	b := raw()
	for _, tok := range purged {
		if bytes.Contains(b, []byte(tok)) {
			t.Fatalf("purged token %s still in the raw file", tok)
		}
	}
	if bytes.Contains(b, []byte("X"+old.Format("20060102"))) {
		t.Fatal("a fragment of a purged token is still in the raw file")
	}
	for _, tok := range live {
		if !bytes.Contains(b, []byte(tok)) {
			t.Fatalf("kept token %s missing from the file", tok)
		}
	}
	if _, err := os.Stat(path + ".compact"); !os.IsNotExist(err) {
		t.Fatalf("compaction file left behind: %v", err)
	}
	// The store works on after the file was replaced.
	if c, err := st.ScanCount(ctx); err != nil || c != 10 {
		t.Fatalf("count after purge = %d %v", c, err)
	}
	if _, err := st.Ingest(ctx, []central.Scan{mk(2000, kept)}); err != nil {
		t.Fatal(err)
	}
	if c, _ := st.ScanCount(ctx); c != 11 {
		t.Fatalf("count = %d", c)
	}
}

// BenchmarkPurgeCompact measures the bbolt purge of one day out of
// 28 days of scans: the compaction that rewrites the file holds ingest
// meanwhile. Run: go test -run XXX -bench PurgeCompact -benchtime 1x ./central/
func BenchmarkPurgeCompact(b *testing.B) {
	const perDay = 5000
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		path := filepath.Join(b.TempDir(), "central.db")
		st, err := central.OpenBolt(path)
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		first := time.Date(2026, 10, 1, 0, 0, 0, 0, api.KST)
		for d := 0; d < 28; d++ {
			var batch []central.Scan
			for j := 0; j < perDay; j++ {
				at := first.AddDate(0, 0, d).Add(time.Duration(j) * 17 * time.Second)
				id := fmt.Sprintf("%04d%028d", d, j)
				batch = append(batch, central.Scan{Scan: api.Scan{ID: id, Facility: "F-1", Device: "D-1", DeviceTime: at, CorrectedTime: at, Token: "KP1:" + id + id + id + id, Verdict: "verified"}, Fingerprint: "fp" + id, ReceivedAt: at})
				if len(batch) == api.MaxBatch {
					if _, err := st.Ingest(ctx, batch); err != nil {
						b.Fatal(err)
					}
					batch = batch[:0]
				}
			}
		}
		fi, _ := os.Stat(path)
		b.StartTimer()
		start := time.Now()
		if n, err := st.Purge(ctx, first.AddDate(0, 0, 1)); err != nil || n != perDay {
			b.Fatalf("purge = %d %v", n, err)
		}
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms/purge")
		b.ReportMetric(float64(fi.Size())/(1<<20), "MiB")
		st.Close()
	}
}
