package client_test

import (
	"context"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kipass/kipass/central"
	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/central/client"
	"github.com/kipass/kipass/clock"
	"github.com/kipass/kipass/token"
)

// newCentral starts a real central on loopback whose clock reads now.
func newCentral(t *testing.T, now time.Time) (*central.Server, *httptest.Server) {
	c, srv, _ := newCentralKey(t, now)
	return c, srv
}

// newCentralKey is newCentral, with the issuer key central trusts.
func newCentralKey(t *testing.T, now time.Time) (*central.Server, *httptest.Server, token.PrivateKey) {
	t.Helper()
	k, err := token.GenerateKey("dev")
	if err != nil {
		t.Fatal(err)
	}
	c, err := central.Open(filepath.Join(t.TempDir(), "central.db"), central.Options{Keys: token.NewKeySet(k.Public()),
		Clock: clock.NewFake(now), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(func() { srv.Close(); c.Close() })
	return c, srv, k
}

func TestDoDecodesAndLearnsCentralTime(t *testing.T) {
	centralNow := time.Date(2026, 11, 22, 1, 30, 0, 0, time.UTC)
	_, srv := newCentral(t, centralNow)
	dev := clock.NewFake(centralNow.Add(-90 * time.Second))
	type sample struct{ sent, received, server time.Time }
	var got []sample
	c, err := client.New(client.Options{URL: srv.URL + "/", Clock: dev, OnServerTime: func(s, r, v time.Time) {
		got = append(got, sample{s, r, v})
	}})
	if err != nil {
		t.Fatal(err)
	}
	var tm api.Time
	if err := c.Do(context.Background(), http.MethodGet, api.PathTime, nil, &tm); err != nil {
		t.Fatal(err)
	}
	if !tm.Now.Equal(centralNow) {
		t.Fatalf("central's time = %v, want %v", tm.Now, centralNow)
	}
	if len(got) != 1 || !got[0].server.Equal(centralNow) || !got[0].sent.Equal(dev.Now()) || !got[0].received.Equal(dev.Now()) {
		t.Fatalf("samples = %+v, want one stamped by the device clock", got)
	}
	// An answer without central's clock teaches nothing.
	var bt []api.BusinessType
	if err := c.Do(context.Background(), http.MethodGet, api.PathBusinessTypes, nil, &bt); err != nil || len(bt) == 0 {
		t.Fatalf("business types: %d %v", len(bt), err)
	}
	if len(got) != 1 {
		t.Fatalf("%d samples after an answer without a clock", len(got))
	}
}

// central answers errors the way a loaded or strict server does: the
// classes, the reason and Retry-After reach the caller.
func TestErrorClasses(t *testing.T) {
	cases := []struct {
		status     int
		retryAfter string
		reason     string
		retryable  bool
		wait       time.Duration
	}{
		{500, "", "internal", true, 0},
		{503, "", "", true, 0},
		{429, "7", "rate_limited", true, 7 * time.Second},
		{408, "", "", true, 0},
		{400, "", "bad_json", false, 0},
		{401, "", "revoked", false, 0},
		{404, "", "", false, 0},
	}
	for _, tc := range cases {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tc.retryAfter != "" {
				w.Header().Set("Retry-After", tc.retryAfter)
			}
			w.WriteHeader(tc.status)
			if tc.reason != "" {
				w.Write([]byte(`{"error":"no","reason":"` + tc.reason + `"}`))
			}
		}))
		c, err := client.New(client.Options{URL: srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		err = c.Do(context.Background(), http.MethodPost, api.PathHeartbeat, api.Heartbeat{Device: "D"}, &api.HeartbeatAck{})
		srv.Close()
		var ce *client.Error
		if !errors.As(err, &ce) {
			t.Fatalf("%d: %v is not a *client.Error", tc.status, err)
		}
		if ce.Status != tc.status || ce.Reason != tc.reason || ce.RetryAfter != tc.wait || ce.Retryable != tc.retryable {
			t.Errorf("%d: error = %+v", tc.status, ce)
		}
		if client.Retryable(err) != tc.retryable || errors.Is(err, client.ErrPermanent) == tc.retryable {
			t.Errorf("%d: errors.Is classes wrong: %v", tc.status, err)
		}
		if ce.Unreachable() {
			t.Errorf("%d: an answer counted as unreachable", tc.status)
		}
		if tc.reason != "" && !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("%d: message %q lacks the reason", tc.status, err)
		}
	}
}

func TestUnreachableIsRetryable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, err := client.New(client.Options{URL: "http://" + addr, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Do(context.Background(), http.MethodGet, api.PathTime, nil, &api.Time{})
	if !client.Unreachable(err) || !client.Retryable(err) {
		t.Fatalf("closed port: %v, want unreachable and retryable", err)
	}
}

// The credential travels as a bearer header and never shows in an error.
func TestCredentialSentNeverLogged(t *testing.T) {
	const secret = "kpd_s3cret-credential"
	var auth atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth.Store(r.Header.Get("Authorization"))
		http.Error(w, `{"error":"revoked","reason":"revoked"}`, http.StatusUnauthorized)
	}))
	defer srv.Close()
	c, err := client.New(client.Options{URL: srv.URL, Credential: secret})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Do(context.Background(), http.MethodPost, api.PathHeartbeat, api.Heartbeat{}, nil)
	if auth.Load() != "Bearer "+secret {
		t.Fatalf("authorization header = %q", auth.Load())
	}
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("error %v is nil or shows the credential", err)
	}
}

func TestGzippedBodyReachesCentral(t *testing.T) {
	now := time.Now()
	c, srv, key := newCentralKey(t, now)
	tok, err := token.Signer{Key: key}.Issue(now)
	if err != nil {
		t.Fatal(err)
	}
	var gz atomic.Int32
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Encoding") == "gzip" {
			gz.Add(1)
		}
		srv.Config.Handler.ServeHTTP(w, r)
	}))
	defer front.Close()
	cl, err := client.New(client.Options{URL: front.URL})
	if err != nil {
		t.Fatal(err)
	}
	batch := api.ScanBatch{Scans: []api.Scan{{ID: token.ScanID("D", tok), Facility: "F", Device: "D", DeviceTime: now, CorrectedTime: now,
		Token: tok, Verdict: "verified"}}}
	var res api.BatchResult
	if err := cl.Gzipped().Do(context.Background(), http.MethodPost, api.PathScans, batch, &res); err != nil {
		t.Fatal(err)
	}
	if gz.Load() != 1 || len(res.Results) != 1 {
		t.Fatalf("gzip requests %d, results %+v", gz.Load(), res.Results)
	}
	if n, _ := c.ScanCount(); n != 1 {
		t.Fatalf("central stored %d scans", n)
	}
}

func TestPinnedCA(t *testing.T) {
	_, plain := newCentral(t, time.Now())
	srv := httptest.NewTLSServer(plain.Config.Handler)
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	sys, err := client.New(client.Options{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if err := sys.Do(context.Background(), http.MethodGet, api.PathTime, nil, &api.Time{}); !client.Retryable(err) {
		t.Fatalf("system roots: %v, want a retryable TLS failure", err)
	}
	pinned, err := client.New(client.Options{URL: srv.URL, CAFile: ca})
	if err != nil {
		t.Fatal(err)
	}
	if err := pinned.Do(context.Background(), http.MethodGet, api.PathTime, nil, &api.Time{}); err != nil {
		t.Fatalf("pinned CA: %v", err)
	}
	if _, err := client.New(client.Options{URL: srv.URL, CAFile: filepath.Join(t.TempDir(), "none.pem")}); err == nil || !strings.Contains(err.Error(), "central_ca_file") {
		t.Fatalf("missing CA file: %v", err)
	}
	notPEM := filepath.Join(t.TempDir(), "ca.txt")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o600)
	if _, err := client.New(client.Options{URL: srv.URL, CAFile: notPEM}); err == nil || !strings.Contains(err.Error(), "central_ca_file") {
		t.Fatalf("CA file without PEM: %v", err)
	}
}

func TestPlainHTTPOnlyToLoopback(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:8700", "http://localhost:8700/", "http://[::1]:8700", "http://127.0.0.2",
		"https://central.example", "https://10.0.0.5:8443"} {
		if err := client.CheckURL(u, false); err != nil {
			t.Errorf("%s refused: %v", u, err)
		}
	}
	for _, u := range []string{"http://central.example", "http://10.0.0.5:8700", "http://[fe80::1]:8700", "http://localhost.example.com"} {
		err := client.CheckURL(u, false)
		if err == nil || !strings.Contains(err.Error(), `"central_url"`) || !strings.Contains(err.Error(), `"insecure_http"`) {
			t.Errorf("%s: %v, want a refusal naming central_url and insecure_http", u, err)
		}
		if err := client.CheckURL(u, true); err != nil {
			t.Errorf("%s with insecure_http: %v", u, err)
		}
		if _, err := client.New(client.Options{URL: u}); err == nil {
			t.Errorf("New accepted %s", u)
		}
	}
	for _, u := range []string{"", "central.example", "ftp://central.example", "https://", "https://user:pw@central.example"} {
		err := client.CheckURL(u, true)
		if err == nil || !strings.Contains(err.Error(), `"central_url"`) {
			t.Errorf("%q: %v, want an error naming central_url", u, err)
		}
		if err != nil && strings.Contains(err.Error(), "pw@") {
			t.Errorf("%q: the error shows the password", u)
		}
	}
}
