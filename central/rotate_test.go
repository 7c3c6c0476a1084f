package central_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kipass/kipass/central/api"
)

// A rotated credential replaces the old one at its first use; until then
// both work, so a device keeps sending while its new credential is
// installed.
func TestCredentialRotation(t *testing.T) {
	forEachBackend(t, secure, func(t *testing.T, e *env) {
		f := e.facility(t, "124810099", "서울 중구 1")
		d := e.enroll(t, f, "정문")
		hb := api.Heartbeat{Facility: d.Facility, Device: d.Device, DeviceTime: e.clk.Now(), Camera: "ok"}

		var r1 api.Rotation
		e.ok(t, 201, "POST", api.PathRotate, d.Credential, nil, &r1)
		if !strings.HasPrefix(r1.Credential, "kpd_") || r1.Credential == d.Credential || r1.Subject != d.Device || r1.Role != "device" {
			t.Fatalf("rotation = %+v", r1)
		}
		// A second rotation before the first was used: the unused one is dropped.
		var r2 api.Rotation
		e.ok(t, 201, "POST", api.PathRotate, d.Credential, nil, &r2)
		e.fails(t, 401, "credential_revoked", "POST", api.PathHeartbeat, r1.Credential, hb)
		// The old credential still works until the new one is used.
		e.ok(t, 200, "POST", api.PathHeartbeat, d.Credential, hb, nil)
		e.send(t, d.Credential, e.scan(t, d.Facility, d.Device, e.clk.Now()))

		e.clk.Advance(time.Minute)
		e.ok(t, 200, "POST", api.PathHeartbeat, r2.Credential, hb, nil) // first use
		e.fails(t, 401, "credential_revoked", "POST", api.PathHeartbeat, d.Credential, hb)
		e.fails(t, 401, "credential_revoked", "POST", api.PathScans, d.Credential, api.ScanBatch{Scans: []api.Scan{e.scan(t, d.Facility, d.Device, e.clk.Now())}})
		e.fails(t, 401, "credential_revoked", "POST", api.PathRotate, d.Credential, nil)
		res := e.send(t, r2.Credential, e.scan(t, d.Facility, d.Device, e.clk.Now()))
		if res.Results[0].Status != api.Accepted {
			t.Fatalf("scan with the rotated credential: %+v", res)
		}
		// The new credential is the device's, nothing more.
		other := e.enroll(t, e.facility(t, "220816251", "서울 중구 2"), "정문")
		e.fails(t, 403, "device_mismatch", "POST", api.PathScans, r2.Credential,
			api.ScanBatch{Scans: []api.Scan{e.scan(t, other.Facility, other.Device, e.clk.Now())}})

		// The manager rotates too; admin, authority and issuer secrets live in
		// central's accounts file and cannot.
		var m api.Rotation
		e.ok(t, 201, "POST", api.PathRotate, f.ManagerCredential, nil, &m)
		if !strings.HasPrefix(m.Credential, "kpm_") || m.Facility != f.Facility.ID {
			t.Fatalf("manager rotation = %+v", m)
		}
		e.ok(t, 200, "GET", api.FacilityPath(f.Facility.ID, "devices"), m.Credential, nil, nil)
		e.fails(t, 401, "credential_revoked", "GET", api.FacilityPath(f.Facility.ID, "devices"), f.ManagerCredential, nil)
		for _, cred := range []string{adminCred, authorityCred, issuerCred} {
			e.fails(t, 403, "forbidden", "POST", api.PathRotate, cred, nil)
		}
		e.fails(t, 401, "missing_credential", "POST", api.PathRotate, "", nil)
	})
}
