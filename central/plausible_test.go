package central_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/kipass/kipass/central"
	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/token"
)

// claim is a scan of a token issued at issued that the device claims it
// saw at seen.
func (e *env) claim(t testing.TB, facility, device string, issued, seen time.Time, verdict string) api.Scan {
	t.Helper()
	s := e.scan(t, facility, device, issued)
	s.DeviceTime, s.CorrectedTime, s.Verdict = seen, seen, verdict
	return s
}

// export answers the authority's export of a facility over [from, to).
func (e *env) export(t testing.TB, facility string, from, to time.Time) api.Export {
	t.Helper()
	q := url.Values{"facility": {facility}, "from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)},
		"purpose": {"역학조사 test"}}
	var ex api.Export
	e.ok(t, 200, "GET", api.PathExport+"?"+q.Encode(), authorityCred, nil, &ex)
	return ex
}

// TestForgedTimesRefused: an attacker holding one device credential
// records genuine tokens at times they could not have been seen. Each is
// rejected with time_mismatch and nothing is stored.
func TestForgedTimesRefused(t *testing.T) {
	forEachBackend(t, secure, func(t *testing.T, e *env) {
		f := e.facility(t, "124810099", "서울 중구 1")
		d := e.enroll(t, f, "정문")
		now := e.clk.Now()
		tol := central.DefaultTimeTolerance
		forged := []api.Scan{
			// A fresh token recorded 20 days before it was issued.
			e.claim(t, d.Facility, d.Device, now, now.Add(-20*24*time.Hour), "verified"),
			// A 5-day-old token recorded as seen now.
			e.claim(t, d.Facility, d.Device, now.Add(-5*24*time.Hour), now, "verified"),
			// A token recorded 6 hours after it expired.
			e.claim(t, d.Facility, d.Device, now.Add(-7*time.Hour), now.Add(-7*time.Hour+token.Validity+6*time.Hour), "verified"),
			// Just outside the widened window on either side.
			e.claim(t, d.Facility, d.Device, now.Add(-time.Hour), now.Add(-time.Hour-tol-time.Second), "verified"),
			e.claim(t, d.Facility, d.Device, now.Add(-2*time.Hour), now.Add(-2*time.Hour+token.Validity+tol+time.Second), "verified"),
		}
		r := e.send(t, d.Credential, forged...)
		for i, res := range r.Results {
			if res.Status != api.Rejected || res.Reason != central.ReasonTimeMismatch {
				t.Errorf("forged scan %d: %+v, want rejected %s", i, res, central.ReasonTimeMismatch)
			}
		}
		if n := e.count(t); n != 0 {
			t.Fatalf("%d forged scans stored", n)
		}
		// The edges of the widened window are accepted.
		edges := []api.Scan{
			e.claim(t, d.Facility, d.Device, now.Add(-3*time.Hour), now.Add(-3*time.Hour-tol), "verified"),
			e.claim(t, d.Facility, d.Device, now.Add(-4*time.Hour), now.Add(-4*time.Hour+token.Validity+tol), "verified"),
		}
		for i, res := range e.send(t, d.Credential, edges...).Results {
			if res.Status != api.Accepted {
				t.Errorf("edge scan %d: %+v", i, res)
			}
		}
		if n := e.count(t); n != 2 {
			t.Fatalf("stored %d, want 2", n)
		}
	})
}

// TestPendingUntrustedClockTimedByToken: a door on an untrusted clock
// records a genuine token as pending with a claimed time far from its
// issue; central stores it at the signed issued-at, flagged.
func TestPendingUntrustedClockTimedByToken(t *testing.T) {
	forEachBackend(t, secure, func(t *testing.T, e *env) {
		f := e.facility(t, "124810099", "서울 중구 1")
		d := e.enroll(t, f, "정문")
		now := e.clk.Now()
		issued := now.Add(-3 * time.Hour)
		off := e.claim(t, d.Facility, d.Device, issued, issued.Add(21*time.Hour), "pending") // RTC a day ahead
		ok := e.claim(t, d.Facility, d.Device, now.Add(-time.Hour), now.Add(-time.Hour+5*time.Second), "pending")
		r := e.send(t, d.Credential, off, ok)
		if res := r.Results[0]; res.Status != api.Accepted || res.Verdict != "verified" || !res.TimeFromToken {
			t.Fatalf("pending on a wrong clock: %+v", res)
		}
		if res := r.Results[1]; res.Status != api.Accepted || res.TimeFromToken {
			t.Fatalf("pending on a good clock: %+v", res)
		}
		ex := e.export(t, d.Facility, now.Add(-4*time.Hour), now.Add(time.Hour))
		if len(ex.Visits) != 2 {
			t.Fatalf("export = %+v", ex)
		}
		v := ex.Visits[0]
		if v.Token != off.Token || !v.CorrectedTime.Equal(issued) || !v.TimeFromToken || !v.DeviceTime.Equal(off.DeviceTime) {
			t.Fatalf("visit timed by token = %+v", v)
		}
		if w := ex.Visits[1]; w.TimeFromToken || !w.CorrectedTime.Equal(ok.CorrectedTime) {
			t.Fatalf("visit on a good clock = %+v", w)
		}
		// Sent again it is the same scan on the same day: a duplicate.
		if res := e.send(t, d.Credential, off).Results[0]; res.Status != api.Duplicate {
			t.Fatalf("resend: %+v", res)
		}
		// A pending token older than the retention is refused, whatever it claims.
		ancient := e.claim(t, d.Facility, d.Device, now.Add(-29*24*time.Hour), now, "pending")
		if res := e.send(t, d.Credential, ancient).Results[0]; res.Status != api.Rejected || res.Reason != "too_old" {
			t.Fatalf("ancient pending: %+v", res)
		}
	})
}

// TestCopyCheckCoversEveryDay: the same token at two facilities is a copy
// whatever day each claims, as long as both are stored.
func TestCopyCheckCoversEveryDay(t *testing.T) {
	forEachBackend(t, secure, func(t *testing.T, e *env) {
		a := e.enroll(t, e.facility(t, "124810099", "서울 중구 1"), "정문")
		b := e.enroll(t, e.facility(t, "220816251", "서울 중구 2"), "정문")
		now := e.clk.Now()
		// A genuine token verified at A; the copy at B pending on a clock
		// 20 hours off (the next KST day): stored at the issue time, a copy.
		first := e.claim(t, a.Facility, a.Device, now.Add(-time.Hour), now.Add(-time.Hour), "verified")
		e.send(t, a.Credential, first)
		cp := first
		cp.Facility, cp.Device, cp.ID, cp.Verdict = b.Facility, b.Device, token.ScanID(b.Device, first.Token), "pending"
		cp.DeviceTime, cp.CorrectedTime = now.Add(19*time.Hour), now.Add(19*time.Hour)
		if res := e.send(t, b.Credential, cp).Results[0]; !res.Copy || !res.TimeFromToken {
			t.Fatalf("copy on a wrong clock: %+v", res)
		}
		// An opaque token (lifetime unknown) seen at A, then at B five days later.
		op := "NV1ABCDEFGHJKLMNPQRSTUVWXYZ23456789ABCDEFGH"
		mk := func(d api.Enrollment, at time.Time) api.Scan {
			return api.Scan{ID: token.ScanID(d.Device, op), Facility: d.Facility, Device: d.Device,
				DeviceTime: at, CorrectedTime: at, Token: op, Verdict: "pending"}
		}
		e.send(t, a.Credential, mk(a, now.Add(-6*24*time.Hour)))
		if res := e.send(t, b.Credential, mk(b, now.Add(-24*time.Hour))).Results[0]; !res.Copy || res.Status != api.Accepted {
			t.Fatalf("opaque copy five days apart: %+v", res)
		}
	})
}

// TestRepeatCountedOnce: the same token at two entrances of one facility
// is one visit: the later scan is flagged repeat, each device counts its
// passage and the facility counts the visit once.
func TestRepeatCountedOnce(t *testing.T) {
	forEachBackend(t, secure, func(t *testing.T, e *env) {
		f := e.facility(t, "124810099", "서울 중구 1")
		front, back := e.enroll(t, f, "정문"), e.enroll(t, f, "후문")
		now := e.clk.Now()
		s := e.scan(t, front.Facility, front.Device, now.Add(-time.Minute))
		e.send(t, front.Credential, s)
		again := s
		again.Device, again.ID = back.Device, token.ScanID(back.Device, s.Token)
		again.CorrectedTime = s.CorrectedTime.Add(10 * time.Second)
		if res := e.send(t, back.Credential, again).Results[0]; res.Status != api.Accepted || !res.Repeat || res.Copy {
			t.Fatalf("repeat: %+v", res)
		}
		e.send(t, back.Credential, e.scan(t, back.Facility, back.Device, now.Add(-2*time.Minute)))
		var st api.Stats
		e.ok(t, 200, "GET", api.FacilityPath(f.Facility.ID, "stats"), f.ManagerCredential, nil, &st)
		if st.Today.Total != 2 {
			t.Fatalf("facility visits today = %d, want 2", st.Today.Total)
		}
		per := map[string]int{}
		for _, dc := range st.Devices {
			per[dc.Device] = dc.Today.Total
		}
		if per[front.Device] != 1 || per[back.Device] != 2 {
			t.Fatalf("per device = %v", per)
		}
		var c api.Counts
		e.ok(t, 200, "GET", api.PathCounts, f.ManagerCredential, nil, &c)
		if c.Total != 2 {
			t.Fatalf("counts = %+v", c)
		}
		ex := e.export(t, f.Facility.ID, now.Add(-time.Hour), now.Add(time.Minute))
		reps := 0
		for _, v := range ex.Visits {
			if v.Repeat {
				reps++
				if v.Device != back.Device {
					t.Fatalf("repeat at %s", v.Device)
				}
			}
		}
		if len(ex.Visits) != 3 || reps != 1 {
			t.Fatalf("export = %+v", ex.Visits)
		}
	})
}
