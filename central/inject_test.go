package central_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/kipass/kipass/central"
	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/token"
)

// injections are SQL-injection strings; central must store them verbatim
// or refuse them with a 4xx, and keep working.
var injections = []string{
	`'; DROP TABLE scans;--`,
	`Robert'); DROP TABLE facilities;--`,
	`" OR "1"="1`,
	`1' UNION SELECT hash FROM credentials --`,
	`$$; TRUNCATE audit_log; $$`,
	`%' AND pg_sleep(5) IS NULL --`,
}

func TestInjectionInEveryTextField(t *testing.T) {
	forEachBackend(t, central.Options{}, func(t *testing.T, e *env) {
		for i, inj := range injections {
			// Registration: free text is stored verbatim; formatted fields are refused.
			reg := api.Registration{BusinessNumber: validNumber("12481009" + string(rune('0'+i))), Name: inj, Representative: inj,
				Phone: "02-123-4567", Address: inj, BusinessType: "other"}
			var f api.Registered
			e.ok(t, 201, "POST", api.PathFacilities, "", reg, &f)
			var got api.Facility
			e.ok(t, 200, "GET", api.FacilityPath(f.Facility.ID), f.ManagerCredential, nil, &got)
			if got.Name != inj || got.Representative != inj || got.Address != inj {
				t.Fatalf("facility = %+v", got)
			}
			for _, mod := range []func(*api.Registration){
				func(r *api.Registration) { r.BusinessNumber = inj },
				func(r *api.Registration) { r.Phone = inj },
				func(r *api.Registration) { r.BusinessType = inj },
			} {
				r := reg
				mod(&r)
				if code, out := e.do(t, "POST", api.PathFacilities, "", r); code != 400 {
					t.Fatalf("%q: %d %s", inj, code, out)
				}
			}
			// Entrance, device name, staff name.
			var code api.EnrollmentCode
			e.ok(t, 201, "POST", api.FacilityPath(f.Facility.ID, "enrollment-codes"), f.ManagerCredential, api.CodeRequest{Entrance: inj}, &code)
			e.fails(t, 400, "bad_code", "POST", api.PathEnroll, "", api.EnrollRequest{Code: inj})
			var d api.Enrollment
			e.ok(t, 201, "POST", api.PathEnroll, "", api.EnrollRequest{Code: code.Code, Name: inj}, &d)
			e.ok(t, 204, "PATCH", api.FacilityPath(f.Facility.ID, "devices", d.Device), f.ManagerCredential, api.EntranceRequest{Entrance: inj + "!"}, nil)
			var st api.Staff
			e.ok(t, 201, "POST", api.FacilityPath(f.Facility.ID, "staff"), f.ManagerCredential, api.StaffRequest{Name: inj}, &st)
			var sl api.StaffList
			e.ok(t, 200, "GET", api.FacilityPath(f.Facility.ID, "staff"), f.ManagerCredential, nil, &sl)
			if len(sl.Staff) != 1 || sl.Staff[0].Name != inj {
				t.Fatalf("staff = %+v", sl)
			}
			// Heartbeat text.
			e.ok(t, 200, "POST", api.PathHeartbeat, d.Credential, api.Heartbeat{Camera: inj[:min(len(inj), 32)], Version: inj}, nil)
			var fl api.Fleet
			e.ok(t, 200, "GET", api.FacilityPath(f.Facility.ID, "devices"), f.ManagerCredential, nil, &fl)
			if len(fl.Devices) != 1 || fl.Devices[0].Entrance != inj+"!" || fl.Devices[0].Version != inj || fl.Devices[0].Name != inj {
				t.Fatalf("devices = %+v", fl.Devices)
			}
			// Scans: facility, device and token fields (an unauthenticated
			// development device may name any facility).
			now := e.clk.Now()
			s := api.Scan{ID: token.ScanID(inj, inj), Facility: inj, Device: inj, DeviceTime: now, CorrectedTime: now, Token: inj, Verdict: "pending"}
			if r := e.send(t, "", s, e.scan(t, inj, inj, now)); r.Results[0].Status != api.Accepted || r.Results[1].Status != api.Accepted {
				t.Fatalf("scans: %+v", r.Results)
			}
			var c api.Counts
			e.ok(t, 200, "GET", api.PathCounts+"?"+url.Values{"facility": {inj}}.Encode(), "", nil, &c)
			if c.Total != 2 {
				t.Fatalf("counts of %q = %+v", inj, c)
			}
			// Query and path values.
			e.ok(t, 200, "GET", api.PathFleet+"?"+url.Values{"facility": {inj}}.Encode(), adminCred, nil, &fl)
			e.fails(t, 404, "unknown_facility", "GET", api.FacilityPath(url.PathEscape(inj), "stats"), adminCred, nil)
			q := url.Values{"facility": {inj}, "from": {now.Add(-time.Hour).Format(time.RFC3339)}, "to": {now.Add(time.Hour).Format(time.RFC3339)}, "purpose": {inj}}
			e.fails(t, 404, "unknown_facility", "GET", api.PathExport+"?"+q.Encode(), authorityCred, nil)
			q.Set("facility", f.Facility.ID)
			e.ok(t, 200, "GET", api.PathExport+"?"+q.Encode(), authorityCred, nil, nil)
		}
		var au api.Audit
		e.ok(t, 200, "GET", api.PathAudit, adminCred, nil, &au)
		if len(au.Entries) != len(injections) || au.Entries[0].Purpose != injections[0] {
			t.Fatalf("audit = %+v", au)
		}
		if n := e.count(t); n != 2*len(injections) {
			t.Fatalf("stored %d scans", n)
		}
	})
}
