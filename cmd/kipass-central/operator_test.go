package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kipass/kipass/central"
	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/token"
)

// testCentral is a non-development central on a loopback port with an
// operator and an authority account, and an issuer key.
type testCentral struct {
	url                 string
	adminFile, kdcaFile string
	signer              token.Signer
	dir                 string
}

func startCentral(t *testing.T) *testCentral {
	t.Helper()
	key, err := token.GenerateKey("dev")
	if err != nil {
		t.Fatal(err)
	}
	tc := &testCentral{dir: t.TempDir(), signer: token.Signer{Key: key}}
	cs, err := central.Open(filepath.Join(tc.dir, "central.db"), central.Options{
		RequireCredentials: true, Keys: token.NewKeySet(key.Public()),
		Admins:      map[string]string{"ops": "admin-secret-0123456789"},
		Authorities: map[string]string{"kdca": "authority-secret-0123456789"},
		Log:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(cs.Handler())
	t.Cleanup(func() { srv.Close(); cs.Close() })
	tc.url = srv.URL
	tc.adminFile = tc.secretFile(t, "admin", "admin-secret-0123456789")
	tc.kdcaFile = tc.secretFile(t, "kdca", "authority-secret-0123456789")
	return tc
}

func (tc *testCentral) secretFile(t *testing.T, name, secret string) string {
	p := filepath.Join(tc.dir, name)
	if err := os.WriteFile(p, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// op runs one operator command against tc and returns its exit code,
// standard output and standard error.
func (tc *testCentral) op(t *testing.T, cred string, args ...string) (int, string, string) {
	t.Helper()
	full := append([]string{args[0], "--central", tc.url}, args[1:]...)
	if cred != "" {
		full = append(full, "--credential", cred)
	}
	var out, errb bytes.Buffer
	rc := run(full, &out, &errb)
	return rc, out.String(), errb.String()
}

// call makes one raw API call (what a device does), for the steps the
// operator CLI does not cover.
func call(t *testing.T, method, url, cred string, in, out any) int {
	t.Helper()
	b, _ := json.Marshal(in)
	req, _ := http.NewRequest(method, url, bytes.NewReader(b))
	if cred != "" {
		req.Header.Set("Authorization", "Bearer "+cred)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// ok runs an operator command that must succeed and returns its output.
func (tc *testCentral) ok(t *testing.T, cred string, args ...string) string {
	t.Helper()
	rc, out, errs := tc.op(t, cred, args...)
	return must(t, args[0], rc, out, errs)
}

func must(t *testing.T, what string, rc int, out, errs string) string {
	t.Helper()
	if rc != 0 {
		t.Fatalf("%s: exit %d\nstdout: %s\nstderr: %s", what, rc, out, errs)
	}
	return out
}

var registration = []string{"--name", "코인노래방", "--representative", "최", "--phone", "02-555-0101", "--type", "karaoke"}

func TestOperatorCommands(t *testing.T) {
	tc := startCentral(t)
	mgr := filepath.Join(tc.dir, "manager")

	out := tc.ok(t, "", "business-types")
	if !strings.Contains(out, "karaoke") || !strings.Contains(out, "노래연습장") {
		t.Fatalf("business-types:\n%s", out)
	}

	// register: the facility id on stdout, the manager credential in a 0600 file.
	rc, out, errs := tc.op(t, "", append([]string{"register", "--business-number", "124-81-00998", "--address", "서울 마포구 1",
		"--manager-credential", mgr}, registration...)...)
	fac := strings.TrimSpace(must(t, "register", rc, out, errs))
	if !strings.HasPrefix(fac, "F-") || !strings.Contains(errs, "status active") {
		t.Fatalf("register: %q %q", out, errs)
	}
	if fi, err := os.Stat(mgr); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("manager credential file: %v %v", fi, err)
	}
	if b, _ := os.ReadFile(mgr); !strings.HasPrefix(string(b), "kpm_") || strings.Contains(out+errs, strings.TrimSpace(string(b))) {
		t.Fatal("the manager credential is not in its file, or was printed")
	}
	if rc, _, errs := tc.op(t, "", append([]string{"register", "--address", "서울 마포구 2", "--manager-credential", mgr}, registration...)...); rc != 1 || !strings.Contains(errs, "exists") {
		t.Fatalf("register over an existing credential file: %d %s", rc, errs)
	}

	// A registration without a business number is held; the operator approves it.
	held := filepath.Join(tc.dir, "held-manager")
	rc, out, errs = tc.op(t, "", append([]string{"register", "--address", "서울 마포구 3", "--manager-credential", held}, registration...)...)
	heldID := strings.TrimSpace(must(t, "register held", rc, out, errs))
	if !strings.Contains(errs, "kipass-central approve --facility "+heldID) {
		t.Fatalf("held registration does not say how to approve it: %s", errs)
	}
	out = tc.ok(t, tc.adminFile, "facilities", "--status", "held")
	if !strings.Contains(out, heldID) || strings.Contains(out, fac) {
		t.Fatalf("held facilities:\n%s", out)
	}
	if rc, _, errs := tc.op(t, held, "code", "--facility", heldID, "--entrance", "정문"); rc != 1 || !strings.Contains(errs, "facility_held") {
		t.Fatalf("code of a held facility: %d %s", rc, errs)
	}
	if rc, _, errs := tc.op(t, mgr, "approve", "--facility", heldID); rc != 1 || !strings.Contains(errs, "forbidden") {
		t.Fatalf("a manager approved a facility: %d %s", rc, errs)
	}
	out = tc.ok(t, tc.adminFile, "approve", "--facility", heldID)
	if !strings.Contains(out, heldID) || !strings.Contains(out, "is active") {
		t.Fatalf("approve: %s", out)
	}
	out = tc.ok(t, tc.adminFile, "facilities", "--status", "held")
	if strings.Contains(out, heldID) {
		t.Fatalf("approved facility still held:\n%s", out)
	}

	if rc, _, errs := tc.op(t, tc.adminFile, "approve", "--facility", heldID); rc != 1 || !strings.Contains(errs, "not_disputed") {
		t.Fatalf("approve an active facility: %d %s", rc, errs)
	}

	// A second branch under the same business number: the first manager
	// disputes it, the operator rejects it.
	branchCred := filepath.Join(tc.dir, "branch-manager")
	rc, out, errs = tc.op(t, "", append([]string{"register", "--business-number", "124-81-00998", "--address", "부산 해운대구 9",
		"--manager-credential", branchCred}, registration...)...)
	branch := strings.TrimSpace(must(t, "register branch", rc, out, errs))
	if out := tc.ok(t, mgr, "dispute", "--facility", branch, "--reason", "우리 지점이 아닙니다"); !strings.Contains(out, "disputed") {
		t.Fatalf("dispute: %s", out)
	}
	if out := tc.ok(t, tc.adminFile, "facilities", "--status", "disputed"); !rowHas(out, branch, "disputed") {
		t.Fatalf("disputed facilities:\n%s", out)
	}
	if out := tc.ok(t, tc.adminFile, "reject", "--facility", branch); !strings.Contains(out, branch) || !strings.Contains(out, "is removed") {
		t.Fatalf("reject: %s", out)
	}
	if rc, _, errs := tc.op(t, branchCred, "code", "--facility", branch, "--entrance", "정문"); rc != 1 || !strings.Contains(errs, "facility_removed") {
		t.Fatalf("code of a rejected branch: %d %s", rc, errs)
	}

	// code: a one-time code a device trades for its credential.
	rc, out, errs = tc.op(t, mgr, "code", "--facility", fac, "--entrance", "정문")
	code := strings.TrimSpace(must(t, "code", rc, out, errs))
	if len(code) != 14 || !strings.Contains(errs, "kipass-agent enroll --code "+code) || !strings.Contains(errs, "KST") {
		t.Fatalf("code: %q %q", out, errs)
	}
	var en api.Enrollment
	if c := call(t, "POST", tc.url+api.PathEnroll, "", api.EnrollRequest{Code: code}, &en); c != http.StatusCreated || en.Entrance != "정문" {
		t.Fatalf("enroll with the code: %d %+v", c, en)
	}
	if c := call(t, "POST", tc.url+api.PathHeartbeat, en.Credential, api.Heartbeat{Facility: fac, Device: en.Device,
		DeviceTime: time.Now(), Camera: "ok", Version: "test"}, nil); c != http.StatusOK {
		t.Fatalf("heartbeat: %d", c)
	}

	// devices: the entrance and the state of each device.
	out = tc.ok(t, mgr, "devices", "--facility", fac)
	if !rowHas(out, en.Device, "정문", "ok", "KST") {
		t.Fatalf("devices:\n%s", out)
	}
	// rename, then the devices list shows the new entrance.
	tc.ok(t, mgr, "rename", "--facility", fac, "--device", en.Device, "--entrance", "후문")
	out = tc.ok(t, mgr, "devices", "--facility", fac, "--json")
	var fleet api.Fleet
	if err := json.Unmarshal([]byte(out), &fleet); err != nil || len(fleet.Devices) != 1 || fleet.Devices[0].Entrance != "후문" {
		t.Fatalf("devices --json after rename: %v %s", err, out)
	}
	// The admin sees every facility's devices.
	out = tc.ok(t, tc.adminFile, "devices")
	if !rowHas(out, fac, en.Device, "후문") {
		t.Fatalf("admin devices:\n%s", out)
	}

	// A visit, sent as the device sends it; counts per entrance.
	now := time.Now()
	tok, err := tc.signer.Issue(now)
	if err != nil {
		t.Fatal(err)
	}
	var br api.BatchResult
	if c := call(t, "POST", tc.url+api.PathScans, en.Credential, api.ScanBatch{Scans: []api.Scan{{
		ID: token.ScanID(en.Device, tok), Facility: fac, Device: en.Device, DeviceTime: now, CorrectedTime: now,
		Token: tok, Verdict: "verified"}}}, &br); c != http.StatusOK || len(br.Results) != 1 || br.Results[0].Status != api.Accepted {
		t.Fatalf("scan: %d %+v", c, br)
	}
	// A paper-ledger visit: its own columns.
	if c := call(t, "POST", tc.url+api.PathScans, en.Credential, api.ScanBatch{Scans: []api.Scan{{
		ID: api.PaperIDPrefix + "00112233445566778899aabbccddeeff", Facility: fac, Device: en.Device, DeviceTime: now, CorrectedTime: now,
		Kind: api.KindPaper}}}, &br); c != http.StatusOK || br.Results[0].Status != api.Accepted {
		t.Fatalf("paper visit: %d %+v", c, br)
	}
	out = tc.ok(t, mgr, "counts", "--facility", fac)
	if !rowHas(out, "후문", en.Device, "1", "1") || !rowHas(out, "all entrances", "1", "1") || !strings.Contains(out, "PAPER TODAY") {
		t.Fatalf("counts:\n%s", out)
	}
	if !regexp.MustCompile(`all entrances\s+1\s+1\s+1\s+1`).MatchString(out) {
		t.Fatalf("counts without the paper visit beside the QR visit:\n%s", out)
	}

	// export: only the authority; times in KST (+09:00); audited.
	if rc, _, errs := tc.op(t, mgr, "export", "--facility", fac, "--from", now.Add(-time.Hour).Format(time.RFC3339), "--purpose", "x"); rc != 1 || !strings.Contains(errs, "forbidden") {
		t.Fatalf("a manager exported: %d %s", rc, errs)
	}
	rc, out, errs = tc.op(t, tc.kdcaFile, "export", "--facility", fac, "--from", now.In(api.KST).Format("2006-01-02"),
		"--purpose", "역학조사 2026-123")
	must(t, "export", rc, out, errs)
	var ex api.Export
	if err := json.Unmarshal([]byte(out), &ex); err != nil || len(ex.Visits) != 1 || ex.Visits[0].Token != tok || ex.Visits[0].Entrance != "후문" || ex.AuditSeq != 1 {
		t.Fatalf("export: %v %s", err, out)
	}
	if !strings.Contains(out, `"corrected_time": "`+now.In(api.KST).Format("2006-01-02T15:04:05")) || !strings.Contains(out, "+09:00\"") || strings.Contains(out, "Z\"") {
		t.Fatalf("export times are not in KST (+09:00):\n%s", out)
	}
	// remove: the device's credential stops working at once.
	if out := tc.ok(t, mgr, "remove", "--facility", fac, "--device", en.Device); !strings.Contains(out, "removed") {
		t.Fatalf("remove: %s", out)
	}
	if c := call(t, "POST", tc.url+api.PathHeartbeat, en.Credential, api.Heartbeat{Facility: fac, Device: en.Device}, nil); c != http.StatusUnauthorized {
		t.Fatalf("heartbeat of a removed device: %d", c)
	}
	if rc, _, errs := tc.op(t, mgr, "remove", "--facility", fac, "--device", en.Device); rc != 1 || !strings.Contains(errs, "unknown_device") {
		t.Fatalf("remove twice: %d %s", rc, errs)
	}
	exFile := filepath.Join(tc.dir, "export.json")
	rc, out, errs = tc.op(t, tc.kdcaFile, "export", "--facility", fac, "--from", "2020-01-01T00:00:00+09:00", "--to", "2020-01-02", "--purpose", "x", "--out", exFile)
	must(t, "export --out", rc, out, errs)
	if fi, err := os.Stat(exFile); err != nil || fi.Mode().Perm() != 0o600 || !strings.Contains(errs, "0 visits") {
		t.Fatalf("export --out: %v %v %s", fi, err, errs)
	}
}

func TestOperatorErrors(t *testing.T) {
	tc := startCentral(t)
	for _, c := range []struct {
		args []string
		cred string
		want string
	}{
		{[]string{"devices"}, "", "--credential FILE is required"},
		{[]string{"code", "--entrance", "정문"}, tc.adminFile, "--facility is required"},
		{[]string{"devices"}, filepath.Join(tc.dir, "nothing"), "no such file"},
		{[]string{"devices", "stray"}, tc.adminFile, `unexpected argument "stray"`},
		{[]string{"export", "--facility", "F-1", "--purpose", "x"}, tc.kdcaFile, "--from is required"},
		{[]string{"export", "--facility", "F-1", "--from", "yesterday", "--purpose", "x"}, tc.kdcaFile, "want YYYY-MM-DD"},
		{[]string{"facilities"}, tc.kdcaFile, "a authority credential may not do this"},
		{[]string{"register", "--name", "x"}, "", "--manager-credential FILE is required"},
	} {
		rc, _, errs := tc.op(t, c.cred, c.args...)
		if rc != 1 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 1 and %q", c.args, rc, errs, c.want)
		}
	}
	// A forged credential is refused by central, not by the CLI.
	forged := tc.secretFile(t, "forged", "kpm_forged-credential-0123456789")
	if rc, _, errs := tc.op(t, forged, "devices"); rc != 1 || !strings.Contains(errs, "unknown_credential") {
		t.Fatalf("forged credential: %d %s", rc, errs)
	}
	// Central down: says so.
	var errb bytes.Buffer
	if rc := run([]string{"devices", "--central", "http://127.0.0.1:1", "--credential", tc.adminFile}, io.Discard, &errb); rc != 1 || !strings.Contains(errb.String(), "central unreachable") {
		t.Fatalf("central down: %d %s", rc, errb.String())
	}
	// -h of every command exits 0 and names its credential.
	for name := range opCommands {
		var errb bytes.Buffer
		if rc := run([]string{name, "-h"}, io.Discard, &errb); rc != 0 || !strings.Contains(errb.String(), "Credential:") {
			t.Errorf("%s -h: %d %s", name, rc, errb.String())
		}
	}
}

// rowHas reports whether one line of a table has every cell as a column
// (or as the end of one: "KST" matches a time).
func rowHas(table string, cells ...string) bool {
	for _, line := range strings.Split(table, "\n") {
		cols := regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(line), -1)
		ok := true
		for _, c := range cells {
			found := false
			for _, x := range cols {
				found = found || x == c || strings.HasSuffix(x, " "+c)
			}
			ok = ok && found
		}
		if ok {
			return true
		}
	}
	return false
}

func TestTableAlignsHangul(t *testing.T) {
	var b bytes.Buffer
	printTable(&b, [][]string{{"ENTRANCE", "TODAY"}, {"정문", "1"}, {"all entrances", "2"}})
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	want := strings.Index(lines[0], "TODAY")
	for _, l := range lines[1:] {
		// The second column starts at the same terminal cell on every line.
		i := strings.LastIndex(l, "  ") + 2
		if got := cells(l[:i]); got != want {
			t.Fatalf("column at cell %d, want %d:\n%s", got, want, b.String())
		}
	}
}

// The operator commands reach a central serving HTTPS with the operator's
// own CA when --ca pins it, and refuse it otherwise.
func TestOperatorOverTLSWithCA(t *testing.T) {
	dir := t.TempDir()
	ca, cert, key := writeCA(t, dir)
	accounts := filepath.Join(dir, "accounts.json")
	os.WriteFile(accounts, []byte(`{"admins":{"ops":"admin-secret-0123456789"}}`), 0o600)
	admin := filepath.Join(dir, "admin")
	os.WriteFile(admin, []byte("admin-secret-0123456789\n"), 0o600)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, options{data: filepath.Join(dir, "central"), accounts: accounts, tlsCert: cert, tlsKey: key,
			timeTolerance: time.Minute, ln: ln}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	defer func() { cancel(); <-done }()
	url := "https://" + ln.Addr().String()
	var out, errb bytes.Buffer
	if rc := run([]string{"facilities", "--central", url, "--credential", admin}, &out, &errb); rc != 1 || !strings.Contains(errb.String(), "certificate") {
		t.Fatalf("without --ca: %d %s", rc, errb.String())
	}
	errb.Reset()
	if rc := run([]string{"facilities", "--central", url, "--credential", admin, "--ca", ca}, &out, &errb); rc != 0 || !strings.HasPrefix(out.String(), "FACILITY") {
		t.Fatalf("with --ca: %d %s %s", rc, out.String(), errb.String())
	}
}
