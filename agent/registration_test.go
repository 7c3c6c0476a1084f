package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kipass/kipass/audio"
	"github.com/kipass/kipass/central"
	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/central/client"
	"github.com/kipass/kipass/logging"
	"github.com/kipass/kipass/status"
	"github.com/kipass/kipass/token"
)

// openAgainst opens an agent with a scan engine that never delivers (a
// pipe) against central at url, with the given credential (none when "").
func openAgainst(t *testing.T, url, credential string, keys *token.KeySet) *Agent {
	t.Helper()
	return openAs(t, url, credential, keys, "F1", "D1", "")
}

// openAs is openAgainst for a given facility, device and entrance.
func openAs(t *testing.T, url, credential string, keys *token.KeySet, facility, device, entrance string) *Agent {
	t.Helper()
	dir := t.TempDir()
	keysFile := filepath.Join(dir, "keys.json")
	if err := writeJSONFile(keysFile, keys); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Facility: facility, Device: device, Entrance: entrance, Source: "serial:" + filepath.Join(dir, "no-such-tty"),
		DataDir: filepath.Join(dir, "data"), CentralURL: url, KeysFile: keysFile, Audio: AudioConfig{Device: "none"}}
	if credential != "" {
		cfg.CredentialFile = filepath.Join(dir, "credential")
		if err := os.WriteFile(cfg.CredentialFile, []byte(credential+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg.SetDefaults()
	a, err := Open(context.Background(), cfg, logging.New(&syncBuffer{}, "debug"), Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// TestUnenrolledDeviceIsRefused runs a central that requires credentials:
// a device that was never enrolled learns at Open that central refuses it
// (401 missing_credential). Its state line says "not registered", and a
// valid visitor's scan is recorded but never confirmed: the door says
// "not registered" instead of "verified".
func TestUnenrolledDeviceIsRefused(t *testing.T) {
	k, err := token.GenerateKey("dev")
	if err != nil {
		t.Fatal(err)
	}
	keys := token.NewKeySet(k.Public())
	c, err := central.Open(filepath.Join(t.TempDir(), "central.db"), central.Options{Keys: keys, RequireCredentials: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv := httptest.NewServer(c.Handler())
	defer srv.Close()

	a := openAgainst(t, srv.URL, "", keys)
	ref := a.Refused()
	if ref == nil || ref.Status != http.StatusUnauthorized || ref.Reason != "missing_credential" {
		t.Fatalf("refusal after open = %+v, want 401 missing_credential", ref)
	}
	s := a.Snapshot()
	if s.State() != status.NotRegistered || s.Uplink.Refused == nil {
		t.Fatalf("state = %s, uplink %+v", s.State(), s.Uplink)
	}

	var got []Scan
	a.o.OnScan = func(s Scan) { got = append(got, s) }
	tok, _ := token.Signer{Key: k}.Issue(time.Now())
	a.HandleText(context.Background(), tok, time.Now())
	if len(got) != 1 || got[0].Verdict != token.Verified || !got[0].Recorded || got[0].Prompt != audio.NotRegistered {
		t.Fatalf("scan at a refused device = %+v, want recorded and prompt not-registered", got)
	}
	if st, _ := a.QueueStats(); st.Depth != 1 {
		t.Fatalf("the scan is not kept on the device: depth %d", st.Depth)
	}

	// A forged credential is refused as well, with central's reason.
	b := openAgainst(t, srv.URL, "forged-credential", keys)
	if ref := b.Refused(); ref == nil || ref.Reason != "unknown_credential" {
		t.Fatalf("forged credential: refusal %+v", ref)
	}
}

// TestUnreachableIsNotRefused: a central that cannot be reached is
// "offline", never "not registered"; visits are confirmed (recorded for
// later delivery).
func TestUnreachableIsNotRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now

	k, _ := token.GenerateKey("dev")
	a := openAgainst(t, url, "", token.NewKeySet(k.Public()))
	if ref := a.Refused(); ref != nil {
		t.Fatalf("unreachable central taken as a refusal: %+v", ref)
	}
	if st := a.Snapshot().State(); st == status.NotRegistered {
		t.Fatalf("state = %s", st)
	}
	var got Scan
	a.o.OnScan = func(s Scan) { got = s }
	tok, _ := token.Signer{Key: k}.Issue(time.Now())
	a.HandleText(context.Background(), tok, time.Now())
	if got.Prompt != audio.Verified || !got.Recorded {
		t.Fatalf("offline scan = %+v, want verified and recorded", got)
	}
}

// TestEnrolledDeviceIsAccepted enrolls a device at a central that requires
// credentials: it is accepted; once a manager removes the device (its
// credential is revoked), the next check finds it refused.
func TestEnrolledDeviceIsAccepted(t *testing.T) {
	k, _ := token.GenerateKey("dev")
	keys := token.NewKeySet(k.Public())
	c, err := central.Open(filepath.Join(t.TempDir(), "central.db"), central.Options{Keys: keys, RequireCredentials: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv := httptest.NewServer(c.Handler())
	defer srv.Close()

	reg := registerFacility(t, srv.URL)
	en := enrollEntrance(t, srv.URL, reg, "정문")

	a := openAgainst(t, srv.URL, en.Credential, keys)
	cl, err := client.New(client.Options{URL: srv.URL, Credential: en.Credential})
	if err != nil {
		t.Fatal(err)
	}
	r := &registration{facility: en.Facility, central: cl, clk: a.obs.clk, log: a.o.Log, refusal: a.refusal}
	r.start(context.Background())
	if ref := a.Refused(); ref != nil || !r.answered {
		t.Fatalf("enrolled device: refusal %+v, answered %v", ref, r.answered)
	}
	req, _ := http.NewRequest(http.MethodDelete, srv.URL+api.FacilityPath(en.Facility, "devices", en.Device), nil)
	req.Header.Set("Authorization", "Bearer "+reg.ManagerCredential)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("remove device: %v %v", resp, err)
	}
	r.start(context.Background())
	if ref := a.Refused(); ref == nil || ref.Reason != "credential_revoked" || a.Snapshot().State() != status.NotRegistered {
		t.Fatalf("revoked credential: refusal %+v", ref)
	}
}

// registerFacility registers a facility (active at once) at central.
func registerFacility(t *testing.T, url string) api.Registered {
	t.Helper()
	var reg api.Registered
	if st := postJSON(t, url+api.PathFacilities, "", api.Registration{BusinessNumber: "124-81-00998", Name: "코인노래방",
		Representative: "최", Phone: "02-555-0101", Address: "서울 마포구 1", BusinessType: "karaoke"}, &reg); st/100 != 2 {
		t.Fatalf("register: %d", st)
	}
	return reg
}

// enrollEntrance issues an enrollment code for entrance and trades it.
func enrollEntrance(t *testing.T, url string, reg api.Registered, entrance string) api.Enrollment {
	t.Helper()
	var code api.EnrollmentCode
	postJSON(t, url+api.FacilityPath(reg.Facility.ID, "enrollment-codes"), reg.ManagerCredential, api.CodeRequest{Entrance: entrance}, &code)
	var en api.Enrollment
	if st := postJSON(t, url+api.PathEnroll, "", api.EnrollRequest{Code: code.Code}, &en); st != http.StatusCreated {
		t.Fatalf("enroll %s: %d", entrance, st)
	}
	return en
}

func postJSON(t *testing.T, url, cred string, body, out any) int {
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
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// writeJSONFile writes v as JSON to path.
func writeJSONFile(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
