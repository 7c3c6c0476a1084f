package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kipass/kipass/agent"
	"github.com/kipass/kipass/central"
	"github.com/kipass/kipass/central/api"
)

// postJSON posts body to url and decodes the answer into out; hc is the
// HTTP client (http.DefaultClient when none is given).
func postJSON(t *testing.T, url, cred string, body, out any, hc ...*http.Client) int {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", url, bytes.NewReader(b))
	if cred != "" {
		req.Header.Set("Authorization", "Bearer "+cred)
	}
	c := http.DefaultClient
	if len(hc) > 0 {
		c = hc[0]
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

func TestEnrollFillsConfigAndCredential(t *testing.T) {
	cs, err := central.Open(filepath.Join(t.TempDir(), "c.db"), central.Options{RequireCredentials: true,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(cs.Handler())
	defer func() { srv.Close(); cs.Close() }()
	var reg api.Registered
	postJSON(t, srv.URL+api.PathFacilities, "", api.Registration{BusinessNumber: "124-81-00998", Name: "코인노래방",
		Representative: "최", Phone: "02-555-0101", Address: "서울 마포구 1", BusinessType: "karaoke"}, &reg)
	var code api.EnrollmentCode
	postJSON(t, srv.URL+api.FacilityPath(reg.Facility.ID, "enrollment-codes"), reg.ManagerCredential, api.CodeRequest{Entrance: "후문"}, &code)

	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "agent.json")
	os.WriteFile(cfgPath, []byte(`{"source":"folder:frames","data_dir":"data","keys_file":"keys.json",
		"central_url":"`+srv.URL+`","audio":{"device":"none"}}`), 0o640)
	var out, errb bytes.Buffer
	if rc := run([]string{"enroll", "--config", cfgPath, "--code", strings.ToLower(code.Code), "--name", "PDA-1"}, &out, &errb); rc != 0 {
		t.Fatalf("enroll: %d %s", rc, errb.String())
	}
	cfg, err := agent.LoadConfig(cfgPath)
	if err != nil {
		t.Fatalf("config after enroll: %v", err)
	}
	if cfg.Facility != reg.Facility.ID || cfg.Entrance != "후문" || !strings.HasPrefix(cfg.Device, "D-") || cfg.Audio.Device != "none" {
		t.Fatalf("config = %+v", cfg)
	}
	fi, err := os.Stat(cfg.CredentialFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credential file: %v %v", fi, err)
	}
	if fi, _ := os.Stat(cfgPath); fi.Mode().Perm() != 0o640 {
		t.Fatalf("config mode changed to %v", fi.Mode())
	}
	cred, _ := os.ReadFile(cfg.CredentialFile)
	if strings.Contains(out.String(), strings.TrimSpace(string(cred))) {
		t.Fatal("enroll printed the credential")
	}
	// The credential works for this device.
	if c := postJSON(t, srv.URL+api.PathHeartbeat, strings.TrimSpace(string(cred)), api.Heartbeat{Camera: "ok"}, nil); c != 200 {
		t.Fatalf("heartbeat with the new credential: %d", c)
	}
	// Enrolled already; and a replayed code is refused.
	errb.Reset()
	if rc := run([]string{"enroll", "--config", cfgPath, "--code", code.Code}, &out, &errb); rc != 1 || !strings.Contains(errb.String(), "enrolled already") {
		t.Fatalf("second enroll: %d %s", rc, errb.String())
	}
	errb.Reset()
	if rc := run([]string{"enroll", "--config", cfgPath, "--code", code.Code, "--force"}, &out, &errb); rc != 1 || !strings.Contains(errb.String(), "code_used") {
		t.Fatalf("replayed code: %d %s", rc, errb.String())
	}
	if rc := run([]string{"enroll", "--code", "X"}, &out, &errb); rc != 1 {
		t.Fatalf("no central: %d", rc)
	}
}

// TestEnrollRelativeConfig enrolls with a config given relative to the
// working directory (--config front/agent.json): the credential_file the
// config gets is found by run, which reads paths relative to the config.
func TestEnrollRelativeConfig(t *testing.T) {
	cs, err := central.Open(filepath.Join(t.TempDir(), "c.db"), central.Options{RequireCredentials: true,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(cs.Handler())
	defer func() { srv.Close(); cs.Close() }()
	var reg api.Registered
	postJSON(t, srv.URL+api.PathFacilities, "", api.Registration{BusinessNumber: "124-81-00998", Name: "코인노래방",
		Representative: "최", Phone: "02-555-0101", Address: "서울 마포구 1", BusinessType: "karaoke"}, &reg)
	var code api.EnrollmentCode
	postJSON(t, srv.URL+api.FacilityPath(reg.Facility.ID, "enrollment-codes"), reg.ManagerCredential, api.CodeRequest{Entrance: "정문"}, &code)

	t.Chdir(t.TempDir())
	os.Mkdir("front", 0o755)
	os.WriteFile("front/agent.json", []byte(`{"source":"stdin","data_dir":"data","keys_file":"keys.json",
		"central_url":"`+srv.URL+`"}`), 0o600)
	var out, errb bytes.Buffer
	if rc := run([]string{"enroll", "--config", "front/agent.json", "--code", code.Code}, &out, &errb); rc != 0 {
		t.Fatalf("enroll: %d %s", rc, errb.String())
	}
	cfg, err := agent.LoadConfig("front/agent.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cfg.CredentialFile); err != nil {
		t.Fatalf("run cannot find the credential the enrollment wrote: %v", err)
	}
	if b, _ := os.ReadFile("front/agent.json"); !strings.Contains(string(b), `"credential_file": "credential"`) {
		t.Fatalf("config after enroll:\n%s", b)
	}
}

// enroll --rotate: central issues a new credential, the file gets it, the
// old one keeps working until the agent runs with the new one, and then
// central refuses the old one.
func TestEnrollRotate(t *testing.T) {
	cs, err := central.Open(filepath.Join(t.TempDir(), "c.db"), central.Options{RequireCredentials: true,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(cs.Handler())
	defer func() { srv.Close(); cs.Close() }()
	var reg api.Registered
	postJSON(t, srv.URL+api.PathFacilities, "", api.Registration{BusinessNumber: "124-81-00998", Name: "코인노래방",
		Representative: "최", Phone: "02-555-0101", Address: "서울 마포구 1", BusinessType: "karaoke"}, &reg)
	var code api.EnrollmentCode
	postJSON(t, srv.URL+api.FacilityPath(reg.Facility.ID, "enrollment-codes"), reg.ManagerCredential, api.CodeRequest{Entrance: "정문"}, &code)
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "frames"), 0o700)
	os.WriteFile(filepath.Join(dir, "keys.json"), []byte(`{"keys":[]}`), 0o600)
	cfgPath := filepath.Join(dir, "agent.json")
	os.WriteFile(cfgPath, []byte(`{"source":"folder:frames","data_dir":"data","keys_file":"keys.json",
		"central_url":"`+srv.URL+`","audio":{"device":"none"},"status":{"listen":"off"}}`), 0o600)
	var out, errb bytes.Buffer
	if rc := run([]string{"enroll", "--config", cfgPath, "--code", code.Code}, &out, &errb); rc != 0 {
		t.Fatalf("enroll: %d %s", rc, errb.String())
	}
	cfg, err := agent.LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	oldCred, _ := os.ReadFile(cfg.CredentialFile)
	old := strings.TrimSpace(string(oldCred))
	hb := api.Heartbeat{Facility: cfg.Facility, Device: cfg.Device, Camera: "ok"}

	out.Reset()
	if rc := run([]string{"enroll", "--rotate", "--config", cfgPath}, &out, &errb); rc != 0 {
		t.Fatalf("enroll --rotate: %d %s", rc, errb.String())
	}
	newCred, _ := os.ReadFile(cfg.CredentialFile)
	if fi, err := os.Stat(cfg.CredentialFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credential file after rotation: %v %v", fi, err)
	}
	if strings.TrimSpace(string(newCred)) == old || !strings.HasPrefix(string(newCred), "kpd_") {
		t.Fatal("the credential file was not rotated")
	}
	if strings.Contains(out.String(), strings.TrimSpace(string(newCred))) || !strings.Contains(out.String(), "restart the agent") {
		t.Fatalf("rotate output: %s", out.String())
	}
	// The running agent still holds the old one: it keeps working.
	if c := postJSON(t, srv.URL+api.PathHeartbeat, old, hb, nil); c != 200 {
		t.Fatalf("old credential before the new one is used: %d", c)
	}
	// The agent restarts with the rotated file; its first call retires the old one.
	ctx, cancel := context.WithCancel(context.Background())
	a, err := agent.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), agent.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done; a.Close() }()
	var ae api.Error
	for i := 0; i < 100; i++ {
		if c := postJSON(t, srv.URL+api.PathHeartbeat, old, hb, &ae); c == 401 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if ae.Reason != "credential_revoked" {
		t.Fatalf("old credential after the agent used the new one: %+v", ae)
	}
	// Rotating with a revoked credential is refused and leaves the file alone.
	os.WriteFile(cfg.CredentialFile, []byte(old+"\n"), 0o600)
	errb.Reset()
	if rc := run([]string{"enroll", "--rotate", "--config", cfgPath}, &out, &errb); rc != 1 || !strings.Contains(errb.String(), "credential_revoked") {
		t.Fatalf("rotate with a revoked credential: %d %s", rc, errb.String())
	}
	if b, _ := os.ReadFile(cfg.CredentialFile); strings.TrimSpace(string(b)) != old {
		t.Fatal("a refused rotation changed the credential file")
	}
	if rc := run([]string{"enroll", "--rotate", "--code", "X", "--config", cfgPath}, &out, &errb); rc != 1 {
		t.Fatal("--rotate with --code accepted")
	}
}

// Enrollment goes through the agent's client for central: the config's
// pinned CA is trusted, and a plain http:// URL to another host is refused
// before the code leaves the device.
func TestEnrollUsesPinnedCAAndRefusesPlainHTTP(t *testing.T) {
	cs, err := central.Open(filepath.Join(t.TempDir(), "c.db"), central.Options{RequireCredentials: true,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(cs.Handler())
	defer func() { srv.Close(); cs.Close() }()
	var reg api.Registered
	if c := postJSON(t, srv.URL+api.PathFacilities, "", api.Registration{BusinessNumber: "124-81-00998", Name: "카페",
		Representative: "최", Phone: "02-555-0101", Address: "서울 마포구 1", BusinessType: "cafe"}, &reg, srv.Client()); c != 201 {
		t.Fatalf("register: %d", c)
	}
	var code api.EnrollmentCode
	postJSON(t, srv.URL+api.FacilityPath(reg.Facility.ID, "enrollment-codes"), reg.ManagerCredential, api.CodeRequest{Entrance: "정문"}, &code, srv.Client())

	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ca.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644)
	cfgPath := filepath.Join(dir, "agent.json")
	os.WriteFile(cfgPath, []byte(`{"source":"stdin","data_dir":"data","keys_file":"keys.json",
		"central_url":"`+srv.URL+`","central_ca_file":"ca.pem"}`), 0o600)
	var out, errb bytes.Buffer
	if rc := run([]string{"enroll", "--config", cfgPath, "--code", code.Code}, &out, &errb); rc != 0 {
		t.Fatalf("enroll over TLS with the pinned CA: %d %s", rc, errb.String())
	}
	if cfg, err := agent.LoadConfig(cfgPath); err != nil || cfg.Facility != reg.Facility.ID {
		t.Fatalf("config after enroll: %+v %v", cfg, err)
	}

	errb.Reset()
	cred := filepath.Join(dir, "other-credential")
	if rc := run([]string{"enroll", "--central", "http://central.example:8700", "--credential", cred, "--code", "ABCD-EFGH-JKLM"}, &out, &errb); rc != 1 ||
		!strings.Contains(errb.String(), `"central_url"`) || !strings.Contains(errb.String(), `"insecure_http"`) {
		t.Fatalf("plain http to another host: %d %s", rc, errb.String())
	}
	if _, err := os.Stat(cred); err == nil {
		t.Fatal("a credential file was written after the refusal")
	}
}
