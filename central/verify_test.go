package central

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/clock"
	"github.com/kipass/kipass/token"
)

type verifyEnv struct {
	url string
	key token.PrivateKey
	clk *clock.Fake
}

func newVerifyEnv(t *testing.T) *verifyEnv {
	t.Helper()
	k, err := token.GenerateKey("dev")
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Date(2026, 11, 22, 1, 30, 0, 0, time.UTC))
	c, err := Open(filepath.Join(t.TempDir(), "central.db"), Options{Keys: token.NewKeySet(k.Public()), Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(func() { srv.Close(); c.Close() })
	return &verifyEnv{url: srv.URL, key: k, clk: clk}
}

// call sends a request and decodes the answer into out (or an api.Error).
func (e *verifyEnv) call(t *testing.T, method, path string, body any, out any) int {
	t.Helper()
	var r io.Reader
	if s, ok := body.(string); ok {
		r = bytes.NewReader([]byte(s))
	} else if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.url+path, r)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("%s %s: answer is not JSON: %v", method, path, err)
	}
	return resp.StatusCode
}

func TestVerifyOnline(t *testing.T) {
	e := newVerifyEnv(t)
	now := e.clk.Now()
	other, _ := token.GenerateKey("dev")
	good, _ := token.Signer{Key: e.key}.Issue(now)
	old, _ := token.Signer{Key: e.key}.Issue(now.Add(-time.Minute))
	unknown, _ := token.Signer{Key: other}.Issue(now)
	cases := []struct {
		name, text, verdict, reason string
	}{
		{"fresh token", good, "verified", "ok"},
		{"expired token", old, "expired", "expired"},
		{"unknown key", unknown, "invalid", "unknown_key"},
		{"truncated", good[:60], "invalid", "malformed"},
		{"opaque, no verdict yet", "NV-0123456789ABCDEF", "pending", "awaiting_issuer"},
	}
	for _, c := range cases {
		var res api.VerifyResult
		code := e.call(t, "POST", api.PathVerify, api.VerifyRequest{Token: c.text, Facility: "F1", Device: "D1"}, &res)
		if code != 200 || res.Verdict != c.verdict || res.Reason != c.reason || !res.ServerTime.Equal(now) {
			t.Errorf("%s: %d %+v, want %s/%s", c.name, code, res, c.verdict, c.reason)
		}
	}
}

func TestOpaqueVerdictGivenLater(t *testing.T) {
	e := newVerifyEnv(t)
	const opaque = "NV-0123456789ABCDEF"
	scan := api.Scan{ID: token.ScanID("D1", opaque), Facility: "F1", Device: "D1",
		DeviceTime: e.clk.Now(), CorrectedTime: e.clk.Now(), Token: opaque, Verdict: "pending"}
	var br api.BatchResult
	if code := e.call(t, "POST", api.PathScans, api.ScanBatch{Scans: []api.Scan{scan}}, &br); code != 200 || br.Results[0].Status != api.Accepted {
		t.Fatalf("pending scan not accepted: %d %+v", code, br)
	}
	var sv api.ScanVerdict
	if code := e.call(t, "GET", api.PathVerdicts+"?id="+scan.ID, nil, &sv); code != 200 || sv.Verdict != "pending" {
		t.Fatalf("before the issuer's verdict: %d %+v", code, sv)
	}
	var st api.VerdictsStored
	given := api.GivenVerdicts{Verdicts: []api.GivenVerdict{{Token: opaque, Verdict: "invalid", Reason: "revoked_by_issuer"}}}
	if code := e.call(t, "POST", api.PathVerdicts, given, &st); code != 200 || st.Stored != 1 {
		t.Fatalf("give verdict: %d %+v", code, st)
	}
	if code := e.call(t, "GET", api.PathVerdicts+"?id="+scan.ID, nil, &sv); code != 200 || sv.Verdict != "invalid" || sv.Reason != "revoked_by_issuer" {
		t.Fatalf("after the issuer's verdict: %d %+v", code, sv)
	}
	var res api.VerifyResult
	if e.call(t, "POST", api.PathVerify, api.VerifyRequest{Token: opaque, Facility: "F2", Device: "D9"}, &res); res.Verdict != "invalid" {
		t.Fatalf("verify after the verdict: %+v", res)
	}
}

func TestVerifyBadInput(t *testing.T) {
	e := newVerifyEnv(t)
	big := make([]byte, api.MaxVerifyBytes+10)
	for i := range big {
		big[i] = 'A'
	}
	cases := []struct {
		method, path string
		body         any
		code         int
		reason       string
	}{
		{"POST", api.PathVerify, `{"token":`, 400, "bad_json"},
		{"POST", api.PathVerify, `{"token":"x","extra":1}`, 400, "bad_json"},
		{"POST", api.PathVerify, api.VerifyRequest{}, 400, "bad_token"},
		{"POST", api.PathVerify, `{"token":"` + string(big) + `"}`, 413, "too_large"},
		{"POST", api.PathVerdicts, api.GivenVerdicts{Verdicts: []api.GivenVerdict{{Token: "x", Verdict: "pending"}}}, 400, "bad_verdict"},
		{"POST", api.PathVerdicts, api.GivenVerdicts{Verdicts: []api.GivenVerdict{{Verdict: "invalid"}}}, 400, "bad_token"},
		{"GET", api.PathVerdicts, nil, 400, "bad_id"},
		{"GET", api.PathVerdicts + "?id=0123", nil, 404, "unknown_scan"},
	}
	for _, c := range cases {
		var ae api.Error
		if code := e.call(t, c.method, c.path, c.body, &ae); code != c.code || ae.Reason != c.reason {
			t.Errorf("%s %s: %d %+v, want %d %s", c.method, c.path, code, ae, c.code, c.reason)
		}
	}
}
