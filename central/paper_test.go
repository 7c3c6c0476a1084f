package central_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/ledger"
	"github.com/kipass/kipass/token"
)

func paperVisit(facility, device, hex string, at time.Time) api.Scan {
	return api.Scan{ID: api.PaperIDPrefix + hex, Facility: facility, Device: device,
		DeviceTime: at, CorrectedTime: at, Kind: api.KindPaper}
}

// Paper visits are counted as their own series, once, on both stores, and
// never leave central in an export.
func TestPaperVisitsCountedOnceNeverExported(t *testing.T) {
	forEachBackend(t, secure, func(t *testing.T, e *env) {
		f := e.facility(t, "124810099", "서울 중구 1")
		d := e.enroll(t, f, "정문")
		now := e.clk.Now() // 10:30 KST
		p1 := paperVisit(d.Facility, d.Device, "0123456789abcdef0123456789abcdef", now.Add(-time.Minute))
		p2 := paperVisit(d.Facility, d.Device, "fedcba9876543210fedcba9876543210", now.Add(-2*time.Hour))
		scan := e.scan(t, d.Facility, d.Device, now)
		r := e.send(t, d.Credential, p1, scan, p2)
		for i, it := range r.Results {
			if it.Status != api.Accepted {
				t.Fatalf("result %d = %+v", i, it)
			}
		}
		// The device did not hear the answer and sends the same visit again.
		r = e.send(t, d.Credential, p1)
		if r.Results[0].Status != api.Duplicate {
			t.Fatalf("resent paper visit: %+v", r.Results[0])
		}
		var c api.Counts
		e.ok(t, 200, "GET", api.PathCounts+"?facility="+f.Facility.ID, f.ManagerCredential, nil, &c)
		if c.Total != 1 || c.PaperTotal != 2 || c.Paper[10] != 1 || c.Paper[8] != 1 || c.Hours[10] != 1 {
			t.Fatalf("counts = %+v", c)
		}
		var st api.Stats
		e.ok(t, 200, "GET", api.FacilityPath(f.Facility.ID, "stats"), f.ManagerCredential, nil, &st)
		if st.Today.PaperTotal != 2 || st.Days[13].Paper != 2 || st.Days[13].Total != 1 || len(st.Devices) != 1 || st.Devices[0].Today.PaperTotal != 2 {
			t.Fatalf("stats = %+v", st)
		}
		q := url.Values{"facility": {f.Facility.ID}, "from": {now.Add(-3 * time.Hour).Format(time.RFC3339)},
			"to": {now.Add(time.Minute).Format(time.RFC3339)}, "purpose": {"역학조사"}}
		var ex api.Export
		e.ok(t, 200, "GET", api.PathExport+"?"+q.Encode(), authorityCred, nil, &ex)
		if len(ex.Visits) != 1 || ex.Visits[0].Token != scan.Token {
			t.Fatalf("export holds paper visits: %+v", ex.Visits)
		}
	})
}

// The attacker's batches: a paper visit carrying a token, a bad id, a
// control code sent as a visitor token.
func TestPaperAndControlCodeRejections(t *testing.T) {
	forEachBackend(t, secure, func(t *testing.T, e *env) {
		f := e.facility(t, "124810099", "서울 중구 1")
		d := e.enroll(t, f, "정문")
		now := e.clk.Now()
		withToken := paperVisit(d.Facility, d.Device, "0123456789abcdef0123456789abcdef", now)
		withToken.Token = "KP1.someone"
		badID := paperVisit(d.Facility, d.Device, "not-hex", now)
		codes, err := ledger.NewCodes(make([]byte, 32), d.Facility, d.Device)
		if err != nil {
			t.Fatal(err)
		}
		ctl := codes.Make(ledger.Paper)
		asToken := api.Scan{ID: "x", Facility: d.Facility, Device: d.Device, DeviceTime: now, CorrectedTime: now, Token: ctl, Verdict: "pending"}
		asToken.ID = token.ScanID(d.Device, ctl)
		r := e.send(t, d.Credential, withToken, badID, asToken)
		want := []string{"paper_with_token", "bad_id", "control_code"}
		for i, it := range r.Results {
			if it.Status != api.Rejected || it.Reason != want[i] {
				t.Errorf("result %d = %+v, want rejected %s", i, it, want[i])
			}
		}
		if e.count(t) != 0 {
			t.Fatal("a rejected record was stored")
		}
	})
}

// Sheets reported in heartbeats show as compliance per facility on the fleet view.
func TestFleetShowsLedgerCompliance(t *testing.T) {
	forEachBackend(t, secure, func(t *testing.T, e *env) {
		f := e.facility(t, "124810099", "서울 중구 1")
		d := e.enroll(t, f, "정문")
		now := e.clk.Now() // 2026-11-22 KST
		sheets := []api.Sheet{
			{Date: "2026-10-01", Entries: 3, DestroyBy: "2026-10-29"},                                                            // overdue
			{Date: "2026-10-20", Entries: 1, DestroyBy: "2026-11-22"},                                                            // due today, not yet overdue
			{Date: "2026-09-20", Entries: 2, DestroyBy: "2026-10-18", ShreddedAt: time.Date(2026, 10, 18, 9, 0, 0, 0, time.UTC)}, // on time
		}
		e.ok(t, 200, "POST", api.PathHeartbeat, d.Credential, api.Heartbeat{DeviceTime: now, Camera: "ok", Ledger: sheets}, nil)
		var fl api.Fleet
		e.ok(t, 200, "GET", api.PathFleet, adminCred, nil, &fl)
		if len(fl.Ledgers) != 1 {
			t.Fatalf("ledgers = %+v", fl.Ledgers)
		}
		l := fl.Ledgers[0]
		if l.Facility != f.Facility.ID || l.Open != 2 || l.Overdue != 1 || l.OldestOverdue != "2026-10-29" || l.Shredded != 1 || l.ShreddedLate != 0 || l.Compliant {
			t.Fatalf("compliance = %+v", l)
		}
		// The manager shreds it; the next heartbeat says so.
		sheets[0].ShreddedAt = now
		e.ok(t, 200, "POST", api.PathHeartbeat, d.Credential, api.Heartbeat{DeviceTime: now, Camera: "ok", Ledger: sheets[:1]}, nil)
		e.ok(t, 200, "GET", api.PathFleet, f.ManagerCredential, nil, &fl)
		if l := fl.Ledgers[0]; l.Overdue != 0 || l.Shredded != 2 || l.ShreddedLate != 1 || !l.Compliant {
			t.Fatalf("after shredding: %+v", l)
		}
		e.fails(t, 400, "bad_ledger", "POST", api.PathHeartbeat, d.Credential, api.Heartbeat{Ledger: []api.Sheet{{Date: "yesterday", DestroyBy: "2026-01-01"}}})
	})
}
