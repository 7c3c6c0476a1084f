package heartbeat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kipass/kipass/central"
	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/central/client"
	"github.com/kipass/kipass/clock"
	"github.com/kipass/kipass/heartbeat"
)

func post(t *testing.T, url, cred string, body, out any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", url, bytes.NewReader(b))
	if cred != "" {
		req.Header.Set("Authorization", "Bearer "+cred)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s: %d %s", url, resp.StatusCode, data)
	}
	if out != nil {
		json.Unmarshal(data, out)
	}
}

func TestHeartbeatReachesFleet(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC))
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cs, err := central.Open(filepath.Join(t.TempDir(), "c.db"), central.Options{Clock: clk, Log: quiet,
		RequireCredentials: true, Admins: map[string]string{"ops": "admin-secret-0123456789"}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(cs.Handler())
	defer func() { srv.Close(); cs.Close() }()
	var reg api.Registered
	post(t, srv.URL+api.PathFacilities, "", api.Registration{BusinessNumber: "124-81-00998", Name: "카페", Representative: "박",
		Phone: "010-1234-5678", Address: "서울 1", BusinessType: "cafe"}, &reg)
	var code api.EnrollmentCode
	post(t, srv.URL+api.FacilityPath(reg.Facility.ID, "enrollment-codes"), reg.ManagerCredential, api.CodeRequest{Entrance: "정문"}, &code)
	var en api.Enrollment
	post(t, srv.URL+api.PathEnroll, "", api.EnrollRequest{Code: code.Code}, &en)

	// The device clock runs 2 minutes behind central's.
	devClock := clock.NewFake(clk.Now().Add(-2 * time.Minute))
	var depth atomic.Int64
	depth.Store(7)
	cl, err := client.New(client.Options{URL: srv.URL, Credential: en.Credential, Clock: devClock})
	if err != nil {
		t.Fatal(err)
	}
	s := heartbeat.New(heartbeat.Options{Central: cl, Facility: en.Facility, Device: en.Device,
		Clock: devClock, Log: quiet, Interval: time.Minute,
		State: func() heartbeat.State {
			return heartbeat.State{QueueDepth: int(depth.Load()), OldestUnsent: 90 * time.Second, ClockOffset: 2 * time.Minute, Camera: "ok",
				Ledger: []api.Sheet{{Date: "2026-10-01", Entries: 2, DestroyBy: "2026-10-29"}}} // a paper sheet past its destroy date
		}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	fleet := func() api.Device {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+api.PathFleet, nil)
		req.Header.Set("Authorization", "Bearer admin-secret-0123456789")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var f api.Fleet
		json.NewDecoder(resp.Body).Decode(&f)
		if len(f.Devices) != 1 {
			t.Fatalf("fleet = %+v", f)
		}
		if !f.Devices[0].LastSeen.IsZero() && (len(f.Ledgers) != 1 || f.Ledgers[0].Overdue != 1 || f.Ledgers[0].Compliant) {
			t.Fatalf("the heartbeat's ledger sheets are not in the fleet view: %+v", f.Ledgers)
		}
		return f.Devices[0]
	}
	waitFor := func(what string, ok func(api.Device) bool) api.Device {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			d := fleet()
			if ok(d) {
				return d
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %+v", what, d)
			}
		}
	}
	d := waitFor("first heartbeat", func(d api.Device) bool { return !d.LastSeen.IsZero() })
	if d.QueueDepth != 7 || d.OldestUnsentSeconds != 90 || d.ClockOffsetMillis != 120000 || d.ClockSkewMillis != -120000 ||
		d.Camera != "ok" || d.Version == "" || len(d.Problems) != 1 || d.Problems[0] != api.ProblemClockSkewed {
		t.Fatalf("device = %+v", d)
	}
	// The next heartbeat comes after the interval on the device clock.
	depth.Store(0)
	clk.Advance(time.Minute)
	for devClock.Waiters() == 0 {
		time.Sleep(time.Millisecond)
	}
	devClock.Advance(time.Minute)
	waitFor("second heartbeat", func(d api.Device) bool { return d.QueueDepth == 0 && d.LastSeen.Equal(clk.Now()) })

	// Central down: Run goes on.
	srv.Close()
	for devClock.Waiters() == 0 {
		time.Sleep(time.Millisecond)
	}
	devClock.Advance(time.Minute)
	for devClock.Waiters() == 0 {
		time.Sleep(time.Millisecond)
	}
	if _, err := s.SendOnce(ctx); !errors.Is(err, client.ErrRetryable) {
		t.Fatalf("central down: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
}

func TestRevokedCredentialIsPermanent(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(401)
		w.Write([]byte(`{"error":"credential revoked","reason":"credential_revoked"}`))
	}))
	defer srv.Close()
	cl, err := client.New(client.Options{URL: srv.URL, Credential: "kpd_x"})
	if err != nil {
		t.Fatal(err)
	}
	s := heartbeat.New(heartbeat.Options{Central: cl, Facility: "F", Device: "D"})
	_, err = s.SendOnce(context.Background())
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Retryable || ce.Status != 401 || ce.Reason != "credential_revoked" || errors.Is(err, client.ErrRetryable) {
		t.Fatalf("err = %v", err)
	}
}
