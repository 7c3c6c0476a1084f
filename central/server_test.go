package central

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/clock"
	"github.com/kipass/kipass/token"
)

type env struct {
	srv *httptest.Server
	key token.PrivateKey
	clk *clock.Fake
	c   *Server
}

func newEnv(t *testing.T) *env {
	t.Helper()
	k, err := token.GenerateKey("dev")
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Date(2026, 11, 22, 1, 30, 0, 0, time.UTC)) // 10:30 KST
	c, err := Open(filepath.Join(t.TempDir(), "central.db"), Options{Keys: token.NewKeySet(k.Public()), Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(func() { srv.Close(); c.Close() })
	return &env{srv: srv, key: k, clk: clk, c: c}
}

func (e *env) scan(t *testing.T, facility, device string, at time.Time) api.Scan {
	t.Helper()
	tok, err := token.Signer{Key: e.key}.Issue(at)
	if err != nil {
		t.Fatal(err)
	}
	return api.Scan{ID: token.ScanID(device, tok), Facility: facility, Device: device,
		DeviceTime: at, CorrectedTime: at, Token: tok, Verdict: "verified"}
}

func (e *env) post(t *testing.T, body []byte, gz bool) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", e.srv.URL+api.PathScans, bytes.NewReader(body))
	if gz {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		w.Write(body)
		w.Close()
		req, _ = http.NewRequest("POST", e.srv.URL+api.PathScans, &b)
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func (e *env) postBatch(t *testing.T, scans ...api.Scan) api.BatchResult {
	t.Helper()
	b, _ := json.Marshal(api.ScanBatch{Scans: scans})
	code, out := e.post(t, b, false)
	if code != 200 {
		t.Fatalf("status %d: %s", code, out)
	}
	var r api.BatchResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestIngestIdempotentAndCounts(t *testing.T) {
	e := newEnv(t)
	at := e.clk.Now()
	a, b := e.scan(t, "F1", "D1", at), e.scan(t, "F1", "D2", at.Add(time.Hour))
	r := e.postBatch(t, a, b)
	if r.Results[0].Status != api.Accepted || r.Results[1].Status != api.Accepted {
		t.Fatalf("first batch: %+v", r.Results)
	}
	r = e.postBatch(t, a)
	if r.Results[0].Status != api.Duplicate {
		t.Fatalf("resend: %+v", r.Results)
	}
	if n, _ := e.c.ScanCount(); n != 2 {
		t.Fatalf("stored %d", n)
	}
	resp, err := http.Get(e.srv.URL + api.PathCounts + "?facility=F1&date=2026-11-22")
	if err != nil {
		t.Fatal(err)
	}
	var c api.Counts
	json.NewDecoder(resp.Body).Decode(&c)
	resp.Body.Close()
	if c.Hours[10] != 1 || c.Hours[11] != 1 || c.Total != 2 {
		t.Fatalf("counts = %+v", c)
	}
	// Counts only: the answer has no token, device or id in it.
	raw, _ := json.Marshal(c)
	if strings.Contains(string(raw), "KP1") || strings.Contains(string(raw), "D1") {
		t.Fatalf("counts answer leaks a record: %s", raw)
	}
}

func TestCopyAtAnotherFacilityFlagged(t *testing.T) {
	e := newEnv(t)
	a := e.scan(t, "F1", "D1", e.clk.Now())
	copyScan := a
	copyScan.Facility, copyScan.Device = "F2", "D9"
	copyScan.ID = token.ScanID("D9", a.Token)
	r := e.postBatch(t, a, copyScan)
	if r.Results[0].Copy || !r.Results[1].Copy || r.Results[1].Status != api.Accepted {
		t.Fatalf("results = %+v", r.Results)
	}
}

func TestBadInput(t *testing.T) {
	e := newEnv(t)
	good := e.scan(t, "F1", "D1", e.clk.Now())
	forged := good
	forged.Token = good.Token[:len(good.Token)-4] + "AAAA"
	forged.ID = token.ScanID("D1", forged.Token)
	wrongID := good
	wrongID.ID = "0123"
	inj := e.scan(t, "F1'; DROP TABLE scans;--", "D1", e.clk.Now())

	r := e.postBatch(t, forged, wrongID, inj)
	if r.Results[0].Status != api.Rejected || r.Results[0].Reason != "token_signature" {
		t.Fatalf("forged: %+v", r.Results[0])
	}
	if r.Results[1].Status != api.Rejected || r.Results[1].Reason != "bad_id" {
		t.Fatalf("wrong id: %+v", r.Results[1])
	}
	if r.Results[2].Status != api.Accepted {
		t.Fatalf("injection string is plain data: %+v", r.Results[2])
	}

	for _, c := range []struct {
		body   string
		code   int
		reason string
	}{
		{`{"scans":[`, 400, "bad_json"},
		{`not json`, 400, "bad_json"},
		{`{"scans":[],"extra":1}`, 400, "bad_json"},
	} {
		code, out := e.post(t, []byte(c.body), false)
		var ae api.Error
		json.Unmarshal(out, &ae)
		if code != c.code || ae.Reason != c.reason {
			t.Fatalf("%q: %d %s", c.body, code, out)
		}
	}
	big := api.ScanBatch{}
	for i := 0; i < api.MaxBatch+1; i++ {
		s := good
		s.ID = fmt.Sprint(i)
		big.Scans = append(big.Scans, s)
	}
	b, _ := json.Marshal(big)
	if code, out := e.post(t, b, true); code != 413 || !strings.Contains(string(out), "batch_too_large") {
		t.Fatalf("oversize batch: %d %s", code, out)
	}
	if n, _ := e.c.ScanCount(); n != 1 {
		t.Fatalf("stored %d scans, want only the injection-string one", n)
	}
}
