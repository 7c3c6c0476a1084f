package central_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kipass/kipass/central"
	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/token"
)

var secure = central.Options{RequireCredentials: true}

func TestBusinessNumber(t *testing.T) {
	// Published numbers of well-known companies; their check digits hold.
	for _, n := range []string{"124-81-00998", "220-81-62517", "1208147521"} {
		if _, err := central.NormalizeBusinessNumber(n); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
	good, _ := central.NormalizeBusinessNumber("124-81-00998")
	for i := 0; i < 10; i++ {
		for d := byte('0'); d <= '9'; d++ {
			if d == good[i] {
				continue
			}
			bad := good[:i] + string(d) + good[i+1:]
			if _, err := central.NormalizeBusinessNumber(bad); err == nil && i == 9 {
				t.Errorf("%s: a changed check digit passed", bad)
			}
		}
	}
	for _, bad := range []string{"", "123", "12345678901", "124-81-0099x", "124 81 00997", "1' OR '1'='1"} {
		if _, err := central.NormalizeBusinessNumber(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestKeysTimeTypes(t *testing.T) {
	forEachBackend(t, secure, func(t *testing.T, e *env) {
		var ks token.KeySet
		e.ok(t, 200, "GET", api.PathKeys, "", nil, &ks)
		if len(ks.Keys()) != 1 || ks.Keys()[0].ID != e.key.Public().ID {
			t.Fatalf("keys = %+v", ks.Keys())
		}
		var tm api.Time
		e.ok(t, 200, "GET", api.PathTime, "", nil, &tm)
		if !tm.Now.Equal(e.clk.Now()) {
			t.Fatalf("time = %v", tm.Now)
		}
		var types []api.BusinessType
		e.ok(t, 200, "GET", api.PathBusinessTypes, "", nil, &types)
		high := 0
		for _, bt := range types {
			if bt.HighRisk {
				high++
			}
		}
		if high != 12 || types[len(types)-1].Code != "other" {
			t.Fatalf("%d high-risk types, last %q", high, types[len(types)-1].Code)
		}
		e.fails(t, 404, "no_such_endpoint", "GET", "/v1/nothing", "", nil)
	})
}

func TestRegistration(t *testing.T) {
	forEachBackend(t, secure, func(t *testing.T, e *env) {
		main := e.facility(t, "124810099", "서울특별시 중구 세종대로 110")
		if main.Facility.Status != api.FacilityActive || !main.Facility.HighRisk || main.ManagerCredential == "" {
			t.Fatalf("registered %+v", main)
		}
		// A branch with the same number at another address; the same
		// address again (other spacing and case) is a conflict.
		e.facility(t, "124810099", "부산광역시 해운대구 센텀로 1")
		e.fails(t, 409, "branch_exists", "POST", api.PathFacilities, "",
			registration(validNumber("124810099"), "  서울특별시 중구  세종대로 110 "))

		wrong := registration("124-81-00997", "대구 중구 1")
		e.fails(t, 400, "bad_business_number", "POST", api.PathFacilities, "", wrong)
		for field, mod := range map[string]func(*api.Registration){
			"missing_name":      func(r *api.Registration) { r.Name = " " },
			"bad_phone":         func(r *api.Registration) { r.Phone = "call me" },
			"bad_business_type": func(r *api.Registration) { r.BusinessType = "casino" },
			"bad_address":       func(r *api.Registration) { r.Address = "a\x00b" },
			"bad_representative": func(r *api.Registration) {
				r.Representative = strings.Repeat("가", 51)
			},
		} {
			r := registration(validNumber("220816251"), "대구 중구 2")
			mod(&r)
			e.fails(t, 400, field, "POST", api.PathFacilities, "", r)
		}
		e.fails(t, 400, "bad_json", "POST", api.PathFacilities, "", `{"name":"x","unknown":1}`)
		e.fails(t, 400, "bad_json", "POST", api.PathFacilities, "", `{"name":`)

		// Without a number: held until an operator approves.
		var held api.Registered
		e.ok(t, 201, "POST", api.PathFacilities, "", registration("", "제주 1"), &held)
		if held.Facility.Status != api.FacilityHeld {
			t.Fatalf("held = %+v", held.Facility)
		}
		codes := api.FacilityPath(held.Facility.ID, "enrollment-codes")
		e.fails(t, 403, "facility_held", "POST", codes, held.ManagerCredential, api.CodeRequest{Entrance: "정문"})
		var list api.Facilities
		e.ok(t, 200, "GET", api.PathFacilities+"?status=held", adminCred, nil, &list)
		if len(list.Facilities) != 1 || list.Facilities[0].ID != held.Facility.ID {
			t.Fatalf("held list = %+v", list)
		}
		e.fails(t, 403, "forbidden", "GET", api.PathFacilities, main.ManagerCredential, nil)
		e.fails(t, 401, "missing_credential", "POST", api.FacilityPath(held.Facility.ID, "approve"), "", nil)
		e.fails(t, 403, "forbidden", "POST", api.FacilityPath(held.Facility.ID, "approve"), held.ManagerCredential, nil)
		e.fails(t, 404, "unknown_facility", "POST", api.FacilityPath("F-nope", "approve"), adminCred, nil)
		var f api.Facility
		e.ok(t, 200, "POST", api.FacilityPath(held.Facility.ID, "approve"), adminCred, nil, &f)
		if f.Status != api.FacilityActive {
			t.Fatalf("approved = %+v", f)
		}
		e.ok(t, 201, "POST", codes, held.ManagerCredential, api.CodeRequest{Entrance: "정문"}, nil)

		// A manager reads their own facility only.
		e.ok(t, 200, "GET", api.FacilityPath(main.Facility.ID), main.ManagerCredential, nil, &f)
		if f.ID != main.Facility.ID || f.BusinessNumber != main.Facility.BusinessNumber || f.Name != main.Facility.Name {
			t.Fatalf("facility = %+v", f)
		}
		e.fails(t, 403, "forbidden", "GET", api.FacilityPath(main.Facility.ID), held.ManagerCredential, nil)
		e.fails(t, 401, "unknown_credential", "GET", api.FacilityPath(main.Facility.ID), "kpm_forged", nil)
		e.fails(t, 401, "missing_credential", "GET", api.FacilityPath(main.Facility.ID), "", nil)
	})
}

func TestEnrollmentDevicesStaff(t *testing.T) {
	forEachBackend(t, secure, func(t *testing.T, e *env) {
		f := e.facility(t, "124810099", "서울 중구 1")
		other := e.facility(t, "220816251", "서울 중구 2")
		id := f.Facility.ID
		var code api.EnrollmentCode
		e.ok(t, 201, "POST", api.FacilityPath(id, "enrollment-codes"), f.ManagerCredential, api.CodeRequest{Entrance: "정문"}, &code)
		var dev api.Enrollment
		e.ok(t, 201, "POST", api.PathEnroll, "", api.EnrollRequest{Code: strings.ToLower(code.Code)}, &dev)
		if dev.Facility != id || dev.Entrance != "정문" || !strings.HasPrefix(dev.Credential, "kpd_") {
			t.Fatalf("enrollment = %+v", dev)
		}
		// A replayed, unknown, malformed or expired code.
		e.fails(t, 409, "code_used", "POST", api.PathEnroll, "", api.EnrollRequest{Code: code.Code})
		e.fails(t, 401, "unknown_code", "POST", api.PathEnroll, "", api.EnrollRequest{Code: "AAAA-BBBB-CCCC"})
		e.fails(t, 400, "bad_code", "POST", api.PathEnroll, "", api.EnrollRequest{Code: "' OR 1=1 --"})
		e.ok(t, 201, "POST", api.FacilityPath(id, "enrollment-codes"), f.ManagerCredential, api.CodeRequest{Entrance: "후문"}, &code)
		e.clk.Advance(25 * time.Hour)
		e.fails(t, 410, "code_expired", "POST", api.PathEnroll, "", api.EnrollRequest{Code: code.Code})
		e.fails(t, 400, "missing_entrance", "POST", api.FacilityPath(id, "enrollment-codes"), f.ManagerCredential, api.CodeRequest{})
		e.fails(t, 403, "forbidden", "POST", api.FacilityPath(id, "enrollment-codes"), other.ManagerCredential, api.CodeRequest{Entrance: "정문"})
		back := e.enroll(t, f, "후문")

		// The device sends scans with its credential.
		r := e.send(t, dev.Credential, e.scan(t, id, dev.Device, e.clk.Now()))
		if r.Results[0].Status != api.Accepted {
			t.Fatalf("scan: %+v", r.Results)
		}
		// Devices and entrance aliases.
		var fl api.Fleet
		e.ok(t, 200, "GET", api.FacilityPath(id, "devices"), f.ManagerCredential, nil, &fl)
		if len(fl.Devices) != 2 {
			t.Fatalf("devices = %+v", fl.Devices)
		}
		e.ok(t, 204, "PATCH", api.FacilityPath(id, "devices", dev.Device), f.ManagerCredential, api.EntranceRequest{Entrance: "주차장 입구"}, nil)
		e.fails(t, 404, "unknown_device", "PATCH", api.FacilityPath(id, "devices", "D-none"), f.ManagerCredential, api.EntranceRequest{Entrance: "x"})
		e.fails(t, 400, "missing_entrance", "PATCH", api.FacilityPath(id, "devices", dev.Device), f.ManagerCredential, api.EntranceRequest{})
		e.ok(t, 200, "GET", api.FacilityPath(id, "devices"), f.ManagerCredential, nil, &fl)
		aliases := map[string]string{}
		for _, d := range fl.Devices {
			aliases[d.ID] = d.Entrance
		}
		if aliases[dev.Device] != "주차장 입구" || aliases[back.Device] != "후문" {
			t.Fatalf("aliases = %v", aliases)
		}

		// Staff: added and removed by the manager; reads, never manages.
		var st api.Staff
		e.ok(t, 201, "POST", api.FacilityPath(id, "staff"), f.ManagerCredential, api.StaffRequest{Name: "이영희"}, &st)
		e.ok(t, 200, "GET", api.FacilityPath(id, "stats"), st.Credential, nil, nil)
		e.ok(t, 200, "GET", api.FacilityPath(id, "devices"), st.Credential, nil, nil)
		e.fails(t, 403, "forbidden", "POST", api.FacilityPath(id, "enrollment-codes"), st.Credential, api.CodeRequest{Entrance: "x"})
		e.fails(t, 403, "forbidden", "POST", api.FacilityPath(id, "staff"), st.Credential, api.StaffRequest{Name: "x"})
		e.fails(t, 403, "forbidden", "POST", api.PathScans, st.Credential, api.ScanBatch{})
		var sl api.StaffList
		e.ok(t, 200, "GET", api.FacilityPath(id, "staff"), f.ManagerCredential, nil, &sl)
		if len(sl.Staff) != 1 || sl.Staff[0].Name != "이영희" || sl.Staff[0].Credential != "" {
			t.Fatalf("staff = %+v", sl)
		}
		e.ok(t, 204, "DELETE", api.FacilityPath(id, "staff", st.ID), f.ManagerCredential, nil, nil)
		e.fails(t, 401, "credential_revoked", "GET", api.FacilityPath(id, "stats"), st.Credential, nil)
		e.fails(t, 404, "unknown_staff", "DELETE", api.FacilityPath(id, "staff", st.ID), f.ManagerCredential, nil)
		e.fails(t, 404, "unknown_staff", "DELETE", api.FacilityPath(id, "staff", "manager"), f.ManagerCredential, nil)
		e.ok(t, 200, "GET", api.FacilityPath(id, "staff"), f.ManagerCredential, nil, &sl)
		if len(sl.Staff) != 0 {
			t.Fatalf("staff after removal = %+v", sl)
		}

		// A removed device's credential stops working at once.
		e.ok(t, 204, "DELETE", api.FacilityPath(id, "devices", dev.Device), f.ManagerCredential, nil, nil)
		e.fails(t, 401, "credential_revoked", "POST", api.PathScans, dev.Credential, api.ScanBatch{Scans: []api.Scan{e.scan(t, id, dev.Device, e.clk.Now())}})
		e.fails(t, 401, "credential_revoked", "POST", api.PathHeartbeat, dev.Credential, api.Heartbeat{})
		e.fails(t, 404, "unknown_device", "DELETE", api.FacilityPath(id, "devices", dev.Device), f.ManagerCredential, nil)
		e.fails(t, 401, "bad_authorization", "GET", api.FacilityPath(id, "staff"), "RAW:Basic "+f.ManagerCredential, nil)
	})
}

func TestIngest(t *testing.T) {
	forEachBackend(t, secure, func(t *testing.T, e *env) {
		f := e.facility(t, "124810099", "서울 중구 1")
		g := e.facility(t, "220816251", "서울 중구 2")
		d1, d2 := e.enroll(t, f, "정문"), e.enroll(t, g, "정문")
		at := e.clk.Now()
		a, b := e.scan(t, d1.Facility, d1.Device, at), e.scan(t, d1.Facility, d1.Device, at.Add(time.Hour))
		r := e.send(t, d1.Credential, a, b)
		if r.Results[0].Status != api.Accepted || r.Results[1].Status != api.Accepted || !r.ServerTime.Equal(at) {
			t.Fatalf("first batch: %+v", r)
		}
		r = e.send(t, d1.Credential, a)
		if r.Results[0].Status != api.Duplicate {
			t.Fatalf("resend: %+v", r.Results)
		}
		// The same token at another facility is a probable copy.
		cp := a
		cp.Facility, cp.Device, cp.ID = d2.Facility, d2.Device, token.ScanID(d2.Device, a.Token)
		r = e.send(t, d2.Credential, cp)
		if !r.Results[0].Copy || r.Results[0].Status != api.Accepted {
			t.Fatalf("copy: %+v", r.Results)
		}
		if n := e.count(t); n != 3 {
			t.Fatalf("stored %d", n)
		}
		// A pending KP1 token gets its verdict here.
		p := e.scan(t, d1.Facility, d1.Device, at.Add(2*time.Minute))
		p.Verdict = "pending"
		forged := e.scan(t, d1.Facility, d1.Device, at.Add(3*time.Minute))
		forged.Token = forged.Token[:len(forged.Token)-4] + "AAAA"
		forged.ID, forged.Verdict = token.ScanID(d1.Device, forged.Token), "pending"
		r = e.send(t, d1.Credential, p, forged)
		if r.Results[0].Verdict != "verified" || r.Results[1].Verdict != "invalid" || r.Results[1].Status != api.Accepted {
			t.Fatalf("pending: %+v", r.Results)
		}

		// Whole-batch failures store nothing.
		before := e.count(t)
		mine := e.scan(t, d1.Facility, d1.Device, at.Add(4*time.Minute))
		e.fails(t, 401, "missing_credential", "POST", api.PathScans, "", api.ScanBatch{Scans: []api.Scan{mine}})
		e.fails(t, 403, "device_mismatch", "POST", api.PathScans, d2.Credential, api.ScanBatch{Scans: []api.Scan{mine}})
		e.fails(t, 401, "unknown_credential", "POST", api.PathScans, "kpd_forged", api.ScanBatch{Scans: []api.Scan{mine}})
		e.fails(t, 401, "bad_authorization", "POST", api.PathScans, "RAW:Bearer ", api.ScanBatch{Scans: []api.Scan{mine}})
		for _, c := range []struct {
			body   string
			code   int
			reason string
		}{
			{`{"scans":[`, 400, "bad_json"},
			{`not json`, 400, "bad_json"},
			{`{"scans":[],"extra":1}`, 400, "bad_json"},
			{`{"scans":[{"id":1}]}`, 400, "bad_json"},
		} {
			e.fails(t, c.code, c.reason, "POST", api.PathScans, d1.Credential, c.body)
		}
		big := api.ScanBatch{}
		for i := 0; i <= api.MaxBatch; i++ {
			s := mine
			s.ID = fmt.Sprint(i)
			big.Scans = append(big.Scans, s)
		}
		data, _ := json.Marshal(big)
		e.fails(t, 413, "batch_too_large", "POST", api.PathScans, d1.Credential, data)
		huge := `{"scans":[{"id":"` + strings.Repeat("x", api.MaxBatchBytes) + `"}]}`
		e.fails(t, 413, "too_large", "POST", api.PathScans, d1.Credential, huge)
		req, _ := http.NewRequest("POST", e.srv.URL+api.PathScans, strings.NewReader(string(gz([]byte(huge)))))
		req.Header.Set("Content-Encoding", "gzip")
		req.Header.Set("Authorization", "Bearer "+d1.Credential)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 413 {
			t.Fatalf("gzip bomb: %d", resp.StatusCode)
		}
		req, _ = http.NewRequest("POST", e.srv.URL+api.PathScans, strings.NewReader("not gzip"))
		req.Header.Set("Content-Encoding", "gzip")
		req.Header.Set("Authorization", "Bearer "+d1.Credential)
		resp, _ = http.DefaultClient.Do(req)
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Fatalf("bad gzip: %d", resp.StatusCode)
		}
		if n := e.count(t); n != before {
			t.Fatalf("a failed batch wrote: %d → %d", before, n)
		}

		// Per-scan rejections, with a gzip body.
		wrongID := mine
		wrongID.ID = "0123"
		old := e.scan(t, d1.Facility, d1.Device, at.Add(-29*24*time.Hour))
		future := e.scan(t, d1.Facility, d1.Device, at.Add(48*time.Hour))
		badVerdict := e.scan(t, d1.Facility, d1.Device, at)
		badVerdict.Verdict = "invalid"
		sig := e.scan(t, d1.Facility, d1.Device, at)
		sig.Token = sig.Token[:len(sig.Token)-4] + "AAAA"
		sig.ID = token.ScanID(d1.Device, sig.Token)
		data, _ = json.Marshal(api.ScanBatch{Scans: []api.Scan{wrongID, old, future, badVerdict, sig, mine}})
		req, _ = http.NewRequest("POST", e.srv.URL+api.PathScans, strings.NewReader(string(gz(data))))
		req.Header.Set("Content-Encoding", "gzip")
		req.Header.Set("Authorization", "Bearer "+d1.Credential)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var br api.BatchResult
		json.NewDecoder(resp.Body).Decode(&br)
		resp.Body.Close()
		want := []string{"bad_id", "too_old", "bad_time", "bad_verdict", "token_signature", ""}
		for i, w := range want {
			got := br.Results[i]
			if (w == "" && got.Status != api.Accepted) || (w != "" && (got.Status != api.Rejected || got.Reason != w)) {
				t.Fatalf("scan %d: %+v, want %q", i, got, w)
			}
		}
		if n := e.count(t); n != before+1 {
			t.Fatalf("stored %d, want %d", n, before+1)
		}
	})
}

// opaque is an issuer's online check: tokens starting with "OK" are valid.
type opaque struct{}

func (opaque) Check(_ context.Context, text string, _ time.Time) (token.Verdict, error) {
	if strings.HasPrefix(text, "OK") {
		return token.Verified, nil
	}
	return token.Invalid, token.ErrNotToken
}

func TestDevModeAndOpaque(t *testing.T) {
	forEachBackend(t, central.Options{Opaque: opaque{}}, func(t *testing.T, e *env) {
		// Development: devices without a credential may send (the demo).
		at := e.clk.Now()
		a := e.scan(t, "DEMO", "gate-1", at)
		mk := func(tok string) api.Scan {
			return api.Scan{ID: token.ScanID("gate-1", tok), Facility: "DEMO", Device: "gate-1",
				DeviceTime: at, CorrectedTime: at, Token: tok, Verdict: "pending"}
		}
		r := e.send(t, "", a, mk("OK-opaque-123"), mk("NAVER-opaque-456"))
		if r.Results[0].Status != api.Accepted || r.Results[1].Verdict != "verified" || r.Results[2].Verdict != "invalid" {
			t.Fatalf("dev batch: %+v", r.Results)
		}
		var c api.Counts
		e.ok(t, 200, "GET", api.PathCounts+"?facility=DEMO", "", nil, &c)
		if c.Total != 3 {
			t.Fatalf("counts = %+v", c)
		}
		e.ok(t, 200, "POST", api.PathHeartbeat, "", api.Heartbeat{Facility: "DEMO", Device: "gate-1", Camera: "ok"}, nil)
		// A credential, when given, is still checked.
		e.fails(t, 401, "unknown_credential", "POST", api.PathScans, "kpd_forged", api.ScanBatch{})
		f := e.facility(t, "124810099", "서울 중구 1")
		d := e.enroll(t, f, "정문")
		e.ok(t, 204, "DELETE", api.FacilityPath(f.Facility.ID, "devices", d.Device), f.ManagerCredential, nil, nil)
		e.fails(t, 401, "credential_revoked", "POST", api.PathScans, d.Credential, api.ScanBatch{})
		e.fails(t, 400, "missing_facility", "GET", api.PathCounts, "", nil)
	})
}

func TestCountsAndStats(t *testing.T) {
	forEachBackend(t, secure, func(t *testing.T, e *env) {
		f := e.facility(t, "124810099", "서울 중구 1")
		front, back := e.enroll(t, f, "정문"), e.enroll(t, f, "후문")
		other := e.facility(t, "220816251", "서울 중구 2")
		od := e.enroll(t, other, "정문")
		now := e.clk.Now() // 10:30 KST
		today := central.Day(now)
		// Visits: today at hours 8, 9, 9, 10 (front) and 9 (back); 3 and 13
		// days ago; 20 days ago (outside the two weeks); another facility.
		type visit struct {
			dev api.Enrollment
			at  time.Time
		}
		visits := []visit{
			{front, today.Add(8*time.Hour + 5*time.Minute)}, {front, today.Add(9 * time.Hour)},
			{front, today.Add(9*time.Hour + 59*time.Minute)}, {front, today.Add(10 * time.Hour)},
			{back, today.Add(9*time.Hour + 30*time.Minute)},
			{back, today.AddDate(0, 0, -3).Add(12 * time.Hour)}, {front, today.AddDate(0, 0, -13).Add(23 * time.Hour)},
			{front, today.AddDate(0, 0, -20)}, {od, today.Add(9 * time.Hour)},
		}
		wantHours := map[string][24]int{}
		wantDays := map[string][14]int{}
		for _, v := range visits {
			e.send(t, v.dev.Credential, e.scan(t, v.dev.Facility, v.dev.Device, v.at))
			if v.dev.Facility != f.Facility.ID {
				continue
			}
			i := int(central.Day(v.at).Sub(today.AddDate(0, 0, -13)).Hours()) / 24
			for _, k := range []string{"", v.dev.Device} {
				if i >= 0 && i < 14 {
					d := wantDays[k]
					d[i]++
					wantDays[k] = d
				}
				if i == 13 {
					h := wantHours[k]
					h[v.at.In(api.KST).Hour()]++
					wantHours[k] = h
				}
			}
		}
		check := func(name string, cs api.CountSeries, key string) {
			t.Helper()
			if cs.Today.Hours != wantHours[key] || len(cs.Days) != 14 || cs.Today.Date != today.Format("2006-01-02") {
				t.Fatalf("%s today = %+v, want %v", name, cs.Today, wantHours[key])
			}
			for i, d := range cs.Days {
				if d.Total != wantDays[key][i] || d.Date != today.AddDate(0, 0, i-13).Format("2006-01-02") {
					t.Fatalf("%s day %d = %+v, want %d", name, i, d, wantDays[key][i])
				}
			}
		}
		var st api.Stats
		e.ok(t, 200, "GET", api.FacilityPath(f.Facility.ID, "stats"), f.ManagerCredential, nil, &st)
		check("facility", st.CountSeries, "")
		if len(st.Devices) != 2 {
			t.Fatalf("devices = %+v", st.Devices)
		}
		for _, d := range st.Devices {
			check(d.Entrance, d.CountSeries, d.Device)
		}
		// Counts only: no token, no scan id.
		raw, _ := json.Marshal(st)
		if strings.Contains(string(raw), "KP1") {
			t.Fatalf("stats leak a token: %s", raw)
		}
		var ds api.Stats
		e.ok(t, 200, "GET", api.FacilityPath(f.Facility.ID, "stats"), back.Credential, nil, &ds)
		check("device view", ds.CountSeries, "")
		e.fails(t, 403, "forbidden", "GET", api.FacilityPath(other.Facility.ID, "stats"), back.Credential, nil)
		var c api.Counts
		e.ok(t, 200, "GET", api.PathCounts, front.Credential, nil, &c)
		if c.Hours != wantHours[""] || c.Facility != f.Facility.ID {
			t.Fatalf("counts = %+v", c)
		}
		e.ok(t, 200, "GET", api.PathCounts+"?facility="+f.Facility.ID+"&date="+today.AddDate(0, 0, -3).Format("2006-01-02"), f.ManagerCredential, nil, &c)
		if c.Total != 1 || c.Hours[12] != 1 {
			t.Fatalf("counts 3 days ago = %+v", c)
		}
		e.fails(t, 403, "forbidden", "GET", api.PathCounts+"?facility="+other.Facility.ID, front.Credential, nil)
		e.fails(t, 403, "forbidden", "GET", api.FacilityPath(other.Facility.ID, "stats"), f.ManagerCredential, nil)
		e.fails(t, 400, "bad_date", "GET", api.PathCounts+"?date=yesterday", front.Credential, nil)
		e.fails(t, 401, "missing_credential", "GET", api.PathCounts+"?facility="+f.Facility.ID, "", nil)
		e.fails(t, 403, "forbidden", "GET", api.PathCounts+"?facility="+f.Facility.ID, authorityCred, nil)
	})
}

func TestExportAndAudit(t *testing.T) {
	forEachBackend(t, secure, func(t *testing.T, e *env) {
		f := e.facility(t, "124810099", "서울 중구 1")
		d := e.enroll(t, f, "정문")
		other := e.enroll(t, e.facility(t, "220816251", "서울 중구 2"), "정문")
		now := e.clk.Now()
		var sent []api.Scan
		for i := 0; i < 5; i++ {
			s := e.scan(t, d.Facility, d.Device, now.Add(-time.Duration(i)*time.Hour))
			sent = append(sent, s)
			e.send(t, d.Credential, s)
		}
		e.send(t, other.Credential, e.scan(t, other.Facility, other.Device, now))
		q := url.Values{"facility": {f.Facility.ID}, "from": {now.Add(-150 * time.Minute).Format(time.RFC3339)},
			"to": {now.Add(time.Minute).Format(time.RFC3339)}, "purpose": {"역학조사 2026-1122-07"}}
		var ex api.Export
		e.ok(t, 200, "GET", api.PathExport+"?"+q.Encode(), authorityCred, nil, &ex)
		if len(ex.Visits) != 3 || ex.AuditSeq != 1 {
			t.Fatalf("export = %+v", ex)
		}
		for i, v := range ex.Visits { // oldest first: sent[2], sent[1], sent[0]
			if s := sent[2-i]; v.Token != s.Token || !v.CorrectedTime.Equal(s.CorrectedTime) || v.Device != d.Device || v.Entrance != "정문" {
				t.Fatalf("visit %d = %+v", i, v)
			}
			// People read the export: KST (+09:00), though the request's window was in UTC.
			for _, tm := range []time.Time{v.CorrectedTime, v.DeviceTime, ex.From, ex.To} {
				if _, off := tm.Zone(); off != 9*3600 {
					t.Fatalf("export time %s is not in KST", tm)
				}
			}
		}
		// Only the authority.
		for _, cred := range []string{f.ManagerCredential, d.Credential, adminCred} {
			e.fails(t, 403, "forbidden", "GET", api.PathExport+"?"+q.Encode(), cred, nil)
		}
		e.fails(t, 401, "missing_credential", "GET", api.PathExport+"?"+q.Encode(), "", nil)
		bad := func(k, v, reason string) {
			t.Helper()
			b := url.Values{}
			for kk, vv := range q {
				b[kk] = vv
			}
			b.Set(k, v)
			code := 400
			if reason == "unknown_facility" {
				code = 404
			}
			e.fails(t, code, reason, "GET", api.PathExport+"?"+b.Encode(), authorityCred, nil)
		}
		bad("purpose", "", "missing_purpose")
		bad("from", "yesterday", "bad_window")
		bad("to", now.Add(-5*time.Hour).Format(time.RFC3339), "bad_window")
		bad("from", now.Add(-40*24*time.Hour).Format(time.RFC3339), "bad_window")
		bad("facility", "F-nope", "unknown_facility")
		bad("facility", "", "missing_facility")

		e.clk.Advance(time.Minute)
		e.ok(t, 200, "GET", api.PathExport+"?"+q.Encode(), authorityCred, nil, &ex)
		var au api.Audit
		e.ok(t, 200, "GET", api.PathAudit, adminCred, nil, &au)
		if len(au.Entries) != 2 || au.Entries[1].Seq != 2 || au.Entries[0].Authority != "kdca" || au.Entries[0].Records != 3 ||
			au.Entries[0].Purpose != "역학조사 2026-1122-07" || !au.Entries[1].At.Equal(e.clk.Now()) || au.Entries[0].Facility != f.Facility.ID {
			t.Fatalf("audit = %+v", au)
		}
		e.ok(t, 200, "GET", api.PathAudit, authorityCred, nil, &au)
		e.fails(t, 403, "forbidden", "GET", api.PathAudit, f.ManagerCredential, nil)
		for _, m := range []string{"DELETE", "PUT", "POST"} {
			if code, _ := e.do(t, m, api.PathAudit, adminCred, nil); code < 400 || code >= 500 {
				t.Fatalf("%s audit: %d", m, code)
			}
		}
	})
}

func TestHeartbeatAndFleet(t *testing.T) {
	forEachBackend(t, secure, func(t *testing.T, e *env) {
		f := e.facility(t, "124810099", "서울 중구 1")
		good, skewed, quiet := e.enroll(t, f, "정문"), e.enroll(t, f, "후문"), e.enroll(t, f, "쪽문")
		g := e.facility(t, "220816251", "서울 중구 2")
		gd := e.enroll(t, g, "정문")
		now := e.clk.Now()
		var ack api.HeartbeatAck
		e.ok(t, 200, "POST", api.PathHeartbeat, good.Credential, api.Heartbeat{DeviceTime: now.Add(time.Second), QueueDepth: 3,
			OldestUnsentSeconds: 12, Camera: "ok", Version: "1.2.0"}, &ack)
		if !ack.ServerTime.Equal(now) {
			t.Fatalf("ack = %+v", ack)
		}
		e.ok(t, 200, "POST", api.PathHeartbeat, skewed.Credential, api.Heartbeat{Facility: f.Facility.ID, Device: skewed.Device,
			DeviceTime: now.Add(-3 * time.Hour), OldestUnsentSeconds: 7200, Camera: "failing", ClockOffsetMillis: 3 * 3600 * 1000}, nil)
		e.ok(t, 200, "POST", api.PathHeartbeat, gd.Credential, api.Heartbeat{DeviceTime: now, Camera: "ok"}, nil)
		e.fails(t, 403, "device_mismatch", "POST", api.PathHeartbeat, good.Credential, api.Heartbeat{Facility: f.Facility.ID, Device: skewed.Device})
		e.fails(t, 400, "bad_queue", "POST", api.PathHeartbeat, good.Credential, api.Heartbeat{QueueDepth: -1})
		e.fails(t, 400, "bad_camera", "POST", api.PathHeartbeat, good.Credential, api.Heartbeat{Camera: strings.Repeat("x", 40)})
		e.fails(t, 401, "missing_credential", "POST", api.PathHeartbeat, "", api.Heartbeat{Facility: "x", Device: "y"})
		e.fails(t, 403, "forbidden", "POST", api.PathHeartbeat, f.ManagerCredential, api.Heartbeat{})

		problems := func(cred, query string) map[string][]string {
			t.Helper()
			var fl api.Fleet
			e.ok(t, 200, "GET", api.PathFleet+query, cred, nil, &fl)
			out := map[string][]string{}
			for _, d := range fl.Devices {
				out[d.ID] = d.Problems
			}
			return out
		}
		eq := func(got []string, want ...string) bool {
			return strings.Join(got, ",") == strings.Join(want, ",")
		}
		p := problems(adminCred, "")
		if len(p) != 4 || !eq(p[good.Device]) || !eq(p[skewed.Device], "clock_skewed", "camera", "backlog") || !eq(p[quiet.Device], "never_seen") {
			t.Fatalf("fleet = %v", p)
		}
		e.clk.Advance(10 * time.Minute)
		e.ok(t, 200, "POST", api.PathHeartbeat, gd.Credential, api.Heartbeat{DeviceTime: e.clk.Now(), Camera: "ok"}, nil)
		if p = problems(adminCred, "?problems=only"); len(p) != 3 || !eq(p[good.Device], "stale") {
			t.Fatalf("after 10 min = %v", p)
		}
		e.clk.Advance(time.Hour)
		if p = problems(f.ManagerCredential, ""); len(p) != 3 || !eq(p[good.Device], "offline") {
			t.Fatalf("manager view after 70 min = %v", p)
		}
		if p = problems(adminCred, "?facility="+g.Facility.ID); len(p) != 1 || !eq(p[gd.Device], "offline") {
			t.Fatalf("admin view of g = %v", p)
		}
		e.fails(t, 403, "forbidden", "GET", api.PathFleet+"?facility="+g.Facility.ID, f.ManagerCredential, nil)
		e.fails(t, 403, "forbidden", "GET", api.PathFleet, good.Credential, nil)
		e.fails(t, 400, "bad_problems", "GET", api.PathFleet+"?problems=some", adminCred, nil)
		var fl api.Fleet
		e.ok(t, 200, "GET", api.PathFleet, adminCred, nil, &fl)
		for _, d := range fl.Devices {
			if d.ID == skewed.Device && (d.ClockSkewMillis != -3*3600*1000 || d.ClockOffsetMillis != 3*3600*1000 || d.Entrance != "후문") {
				t.Fatalf("skewed device = %+v", d)
			}
		}
	})
}

func TestPurgeAfter28Days(t *testing.T) {
	forEachBackend(t, central.Options{PurgeEvery: time.Hour}, func(t *testing.T, e *env) {
		start := e.clk.Now()
		old := e.scan(t, "F", "D", start)
		e.send(t, "", old)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- e.c.Run(ctx) }()
		defer func() { cancel(); <-done }()
		waitTimer := func() {
			t.Helper()
			// Run waits on two timers: the purge's and the outbox's.
			for deadline := time.Now().Add(20 * time.Second); e.clk.Waiters() < 2; {
				if time.Now().After(deadline) {
					t.Fatal("purge loop never waited on the clock")
				}
				time.Sleep(time.Millisecond)
			}
		}
		// Ten days later, a second scan; 28 days after the first, nothing is purged yet.
		waitTimer()
		e.clk.Advance(10 * 24 * time.Hour)
		recent := e.scan(t, "F", "D", e.clk.Now())
		e.send(t, "", recent)
		waitTimer()
		e.clk.Set(start.Add(28 * 24 * time.Hour))
		waitTimer()
		if n := e.count(t); n != 2 {
			t.Fatalf("at 28 days: %d scans", n)
		}
		// Past the end of the first scan's 28th day: its day is destroyed.
		e.clk.Set(central.Day(start).AddDate(0, 0, 29).Add(time.Minute))
		for deadline := time.Now().Add(20 * time.Second); e.count(t) != 1; {
			if time.Now().After(deadline) {
				t.Fatalf("not purged: %d scans", e.count(t))
			}
			time.Sleep(5 * time.Millisecond)
		}
		exp, err := e.st.Export(ctx, "F", start.Add(-time.Hour), e.clk.Now())
		if err != nil || len(exp) != 1 || exp[0].Token != recent.Token {
			t.Fatalf("left = %+v, %v", exp, err)
		}
		// A late copy of the old scan is refused, not stored again.
		if r := e.send(t, "", old); r.Results[0].Status != api.Rejected || r.Results[0].Reason != "too_old" {
			t.Fatalf("late old scan: %+v", r.Results)
		}
	})
}

// TestScannerDevicesInTheFleet: a PDA reports its scan engine, never a
// camera. An open engine is no problem; a disconnected one is a "scanner"
// problem (not "camera"), stored and answered alike on both stores.
func TestScannerDevicesInTheFleet(t *testing.T) {
	forEachBackend(t, secure, func(t *testing.T, e *env) {
		f := e.facility(t, "124810099", "서울 중구 1")
		pda, wedge, fresh := e.enroll(t, f, "정문"), e.enroll(t, f, "후문"), e.enroll(t, f, "쪽문")
		now := e.clk.Now()
		e.ok(t, 200, "POST", api.PathHeartbeat, fresh.Credential, api.Heartbeat{DeviceTime: now, Scanner: "starting"}, nil)
		e.ok(t, 200, "POST", api.PathHeartbeat, pda.Credential, api.Heartbeat{DeviceTime: now, Scanner: "open"}, nil)
		e.ok(t, 200, "POST", api.PathHeartbeat, wedge.Credential, api.Heartbeat{DeviceTime: now, Scanner: "disconnected"}, nil)
		e.fails(t, 400, "bad_scanner", "POST", api.PathHeartbeat, pda.Credential, api.Heartbeat{Scanner: strings.Repeat("x", 40)})
		var fl api.Fleet
		e.ok(t, 200, "GET", api.PathFleet, adminCred, nil, &fl)
		got := map[string]api.Device{}
		for _, d := range fl.Devices {
			got[d.ID] = d
		}
		if d := got[pda.Device]; d.Scanner != "open" || d.Camera != "" || len(d.Problems) != 0 {
			t.Fatalf("open scanner = %+v", d)
		}
		if d := got[fresh.Device]; d.Scanner != "starting" || len(d.Problems) != 0 {
			t.Fatalf("a scan engine not opened yet = %+v", d)
		}
		if d := got[wedge.Device]; d.Scanner != "disconnected" || strings.Join(d.Problems, ",") != "scanner" {
			t.Fatalf("disconnected scanner = %+v", d)
		}
	})
}
