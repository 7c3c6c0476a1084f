package central_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/kipass/kipass/central"
	"github.com/kipass/kipass/central/api"
)

// BenchmarkIngest posts full batches (500 fresh, signed scans) with a
// device credential to a real loopback server and reports scans/s per
// backend. Run: central/pg/testdb.sh run -- go test -run XXX -bench Ingest -benchtime 20x ./central/
func BenchmarkIngest(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			o := secure
			o.Limits = &central.DefaultLimits // the ingest limit per credential is checked as in production
			e := newEnv(b, be.open(b), o)
			f := e.facility(b, "124810099", "서울 중구 1")
			d := e.enroll(b, f, "정문")
			bodies := make([][]byte, b.N)
			at := e.clk.Now()
			for i := range bodies {
				var batch api.ScanBatch
				for j := 0; j < api.MaxBatch; j++ {
					batch.Scans = append(batch.Scans, e.scan(b, d.Facility, d.Device, at.Add(-time.Duration(j)*time.Second)))
				}
				bodies[i], _ = json.Marshal(batch)
			}
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				req, _ := http.NewRequest("POST", e.srv.URL+api.PathScans, bytes.NewReader(bodies[i]))
				req.Header.Set("Authorization", "Bearer "+d.Credential)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				var r api.BatchResult
				err = json.NewDecoder(resp.Body).Decode(&r)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || r.Results[0].Status != api.Accepted {
					b.Fatalf("batch %d: %d %v %+v", i, resp.StatusCode, err, r.Results[:1])
				}
			}
			el := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N*api.MaxBatch)/el.Seconds(), "scans/s")
			if n := e.count(b); n != b.N*api.MaxBatch {
				b.Fatalf("stored %d of %d", n, b.N*api.MaxBatch)
			}
		})
	}
}

// BenchmarkStoreIngest measures the stores alone: 500-scan batches written
// straight to Store.Ingest, without HTTP or signature checks.
func BenchmarkStoreIngest(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			st := be.open(b)
			defer st.Close()
			at := time.Date(2026, 11, 22, 10, 0, 0, 0, api.KST)
			batches := make([][]central.Scan, b.N)
			for i := range batches {
				for j := 0; j < api.MaxBatch; j++ {
					id := fmt.Sprintf("%08x%08x", i, j)
					batches[i] = append(batches[i], central.Scan{Scan: api.Scan{ID: id, Facility: "F-1", Device: "D-1",
						DeviceTime: at, CorrectedTime: at.Add(time.Duration(j) * time.Second), Token: "KP1:" + id, Verdict: "verified"}, Fingerprint: "fp" + id, ReceivedAt: at})
				}
			}
			ctx := context.Background()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if _, err := st.Ingest(ctx, batches[i]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*api.MaxBatch)/time.Since(start).Seconds(), "scans/s")
		})
	}
}
