package central_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kipass/kipass/central"
	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/token"
)

func TestVerifyAndLaterVerdicts(t *testing.T) {
	forEachBackend(t, secure, func(t *testing.T, e *env) {
		f := e.facility(t, "124810099", "서울 중구 1")
		d, d2 := e.enroll(t, f, "정문"), e.enroll(t, f, "후문")
		g := e.facility(t, "220816251", "서울 중구 2")
		gd := e.enroll(t, g, "정문")
		now := e.clk.Now()
		good := e.scan(t, d.Facility, d.Device, now).Token
		const opaque = "NV1ABCDEFGHJKLMNPQRSTUVWXYZ23456789ABCDEFGH"

		// Online verification at central's clock.
		var vr api.VerifyResult
		e.ok(t, 200, "POST", api.PathVerify, d.Credential, api.VerifyRequest{Token: good, Facility: d.Facility, Device: d.Device}, &vr)
		if vr.Verdict != "verified" || vr.Reason != "ok" || !vr.ServerTime.Equal(now) {
			t.Fatalf("verify fresh = %+v", vr)
		}
		e.ok(t, 200, "POST", api.PathVerify, d.Credential, api.VerifyRequest{Token: opaque}, &vr)
		if vr.Verdict != "pending" || vr.Reason != "awaiting_issuer" {
			t.Fatalf("verify opaque = %+v", vr)
		}
		e.fails(t, 401, "missing_credential", "POST", api.PathVerify, "", api.VerifyRequest{Token: good})
		e.fails(t, 403, "forbidden", "POST", api.PathVerify, f.ManagerCredential, api.VerifyRequest{Token: good})
		e.fails(t, 403, "device_mismatch", "POST", api.PathVerify, d.Credential, api.VerifyRequest{Token: good, Device: gd.Device})
		e.fails(t, 400, "bad_token", "POST", api.PathVerify, d.Credential, api.VerifyRequest{})

		// A pending opaque scan, then the issuer's verdict.
		ps := api.Scan{ID: token.ScanID(d.Device, opaque), Facility: d.Facility, Device: d.Device,
			DeviceTime: now, CorrectedTime: now, Token: opaque, Verdict: "pending"}
		if r := e.send(t, d.Credential, ps); r.Results[0].Status != api.Accepted || r.Results[0].Verdict != "" {
			t.Fatalf("pending scan: %+v", r.Results)
		}
		var sv api.ScanVerdict
		e.ok(t, 200, "GET", api.PathVerdicts+"?id="+ps.ID, d.Credential, nil, &sv)
		if sv.Verdict != "pending" {
			t.Fatalf("before the issuer: %+v", sv)
		}
		e.fails(t, 404, "unknown_scan", "GET", api.PathVerdicts+"?id="+ps.ID, d2.Credential, nil)
		e.fails(t, 404, "unknown_scan", "GET", api.PathVerdicts+"?id=0123", d.Credential, nil)
		e.fails(t, 400, "bad_id", "GET", api.PathVerdicts, d.Credential, nil)

		given := api.GivenVerdicts{Verdicts: []api.GivenVerdict{{Token: opaque, Verdict: "invalid", Reason: "revoked_by_issuer"}}}
		e.fails(t, 401, "missing_credential", "POST", api.PathVerdicts, "", given)
		e.fails(t, 403, "forbidden", "POST", api.PathVerdicts, f.ManagerCredential, given)
		e.fails(t, 403, "forbidden", "POST", api.PathVerdicts, d.Credential, given)
		e.fails(t, 400, "bad_verdict", "POST", api.PathVerdicts, issuerCred, api.GivenVerdicts{Verdicts: []api.GivenVerdict{{Token: opaque, Verdict: "pending"}}})
		var vs api.VerdictsStored
		e.ok(t, 200, "POST", api.PathVerdicts, issuerCred, given, &vs)
		if vs.Stored != 1 {
			t.Fatalf("stored = %+v", vs)
		}
		e.ok(t, 200, "GET", api.PathVerdicts+"?id="+ps.ID, d.Credential, nil, &sv)
		if sv.Verdict != "invalid" || sv.Reason != "revoked_by_issuer" {
			t.Fatalf("after the issuer: %+v", sv)
		}
		e.ok(t, 200, "POST", api.PathVerify, gd.Credential, api.VerifyRequest{Token: opaque}, &vr)
		if vr.Verdict != "invalid" {
			t.Fatalf("verify after the issuer = %+v", vr)
		}
		// The same token scanned later elsewhere takes the given verdict at once.
		cp := ps
		cp.Facility, cp.Device, cp.ID = gd.Facility, gd.Device, token.ScanID(gd.Device, opaque)
		if r := e.send(t, gd.Credential, cp); r.Results[0].Verdict != "invalid" || !r.Results[0].Copy {
			t.Fatalf("later scan: %+v", r.Results)
		}

		// Given verdicts are destroyed 28 days after they were given.
		e.clk.Advance(28*24*time.Hour + time.Minute)
		if _, err := e.c.Purge(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := e.st.GivenVerdict(context.Background(), token.Fingerprint(opaque)); !errors.Is(err, central.ErrNotFound) {
			t.Fatalf("verdict after 28 days: %v", err)
		}
	})
}
