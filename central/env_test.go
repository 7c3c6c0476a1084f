package central_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kipass/kipass/central"
	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/central/pg/pgtest"
	"github.com/kipass/kipass/clock"
	"github.com/kipass/kipass/token"
)

const (
	adminCred     = "admin-secret-for-tests"
	authorityCred = "authority-secret-for-tests"
	issuerCred    = "issuer-secret-for-tests"
)

// backends opens each Store implementation for a test.
var backends = []struct {
	name string
	open func(t testing.TB) central.Store
}{
	{"bolt", func(t testing.TB) central.Store {
		st, err := central.OpenBolt(filepath.Join(t.TempDir(), "central.db"))
		if err != nil {
			t.Fatal(err)
		}
		return st
	}},
	{"postgres", func(t testing.TB) central.Store { return pgtest.Open(t) }},
}

// forEachBackend runs f against a fresh server on every backend.
func forEachBackend(t *testing.T, o central.Options, f func(t *testing.T, e *env)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			f(t, newEnv(t, b.open(t), o))
		})
	}
}

type env struct {
	srv *httptest.Server
	key token.PrivateKey
	clk *clock.Fake
	c   *central.Server
	st  central.Store
}

func newEnv(t testing.TB, st central.Store, o central.Options) *env {
	t.Helper()
	k, err := token.GenerateKey("dev")
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Date(2026, 11, 22, 1, 30, 0, 0, time.UTC)) // 10:30 KST
	o.Keys, o.Clock = token.NewKeySet(k.Public()), clk
	o.Log = quietLog()
	if o.Admins == nil {
		o.Admins = map[string]string{"ops": adminCred}
	}
	if o.Issuers == nil {
		o.Issuers = map[string]string{"naver": issuerCred}
	}
	if o.Limits == nil {
		o.Limits = &central.Limits{} // off: TestAbuseLimits tests the defaults
	}
	if o.Authorities == nil {
		o.Authorities = map[string]string{"kdca": authorityCred}
	}
	c := central.New(st, o)
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(func() { srv.Close(); c.Close() })
	return &env{srv: srv, key: k, clk: clk, c: c, st: st}
}

// do sends a request with an optional bearer credential and JSON body and
// returns the status and body.
func (e *env) do(t testing.TB, method, path, cred string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
	case string:
		r = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if h, ok := strings.CutPrefix(cred, "RAW:"); ok {
		req.Header.Set("Authorization", h)
	} else if cred != "" {
		req.Header.Set("Authorization", "Bearer "+cred)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// ok sends a request that must answer want, and decodes the body into v.
func (e *env) ok(t testing.TB, want int, method, path, cred string, body, v any) {
	t.Helper()
	code, out := e.do(t, method, path, cred, body)
	if code != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, code, want, out)
	}
	if v != nil {
		if err := json.Unmarshal(out, v); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, out)
		}
	}
}

// fails sends a request that must fail with code and reason.
func (e *env) fails(t testing.TB, code int, reason, method, path, cred string, body any) {
	t.Helper()
	got, out := e.do(t, method, path, cred, body)
	var ae api.Error
	if err := json.Unmarshal(out, &ae); err != nil || got != code || ae.Reason != reason || ae.Error == "" {
		t.Fatalf("%s %s: got %d %s, want %d reason %q", method, path, got, out, code, reason)
	}
}

// validNumber makes a valid business number from nine digits.
func validNumber(nine string) string {
	return nine[:3] + "-" + nine[3:5] + "-" + nine[5:] + string(central.BusinessNumberCheckDigit(nine))
}

func registration(number, address string) api.Registration {
	return api.Registration{BusinessNumber: number, Name: "행복 헬스장", Representative: "김철수",
		Phone: "02-123-4567", Address: address, BusinessType: "indoor_group_exercise"}
}

// facility registers an active facility and returns it with its manager credential.
func (e *env) facility(t testing.TB, nine, address string) api.Registered {
	t.Helper()
	var r api.Registered
	e.ok(t, 201, "POST", api.PathFacilities, "", registration(validNumber(nine), address), &r)
	return r
}

// enroll issues a code at a facility and trades it for a device.
func (e *env) enroll(t testing.TB, f api.Registered, entrance string) api.Enrollment {
	t.Helper()
	var code api.EnrollmentCode
	e.ok(t, 201, "POST", api.FacilityPath(f.Facility.ID, "enrollment-codes"), f.ManagerCredential, api.CodeRequest{Entrance: entrance}, &code)
	var en api.Enrollment
	e.ok(t, 201, "POST", api.PathEnroll, "", api.EnrollRequest{Code: code.Code, Name: "tablet"}, &en)
	return en
}

func (e *env) scan(t testing.TB, facility, device string, at time.Time) api.Scan {
	t.Helper()
	tok, err := token.Signer{Key: e.key}.Issue(at)
	if err != nil {
		t.Fatal(err)
	}
	return api.Scan{ID: token.ScanID(device, tok), Facility: facility, Device: device,
		DeviceTime: at, CorrectedTime: at, Token: tok, Verdict: "verified"}
}

func (e *env) send(t testing.TB, cred string, scans ...api.Scan) api.BatchResult {
	t.Helper()
	var r api.BatchResult
	e.ok(t, 200, "POST", api.PathScans, cred, api.ScanBatch{Scans: scans}, &r)
	if len(r.Results) != len(scans) {
		t.Fatalf("%d results for %d scans", len(r.Results), len(scans))
	}
	return r
}

func (e *env) count(t testing.TB) int {
	t.Helper()
	n, err := e.st.ScanCount(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
