package central_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kipass/kipass/central"
	"github.com/kipass/kipass/central/api"
)

// gateway is an SMS gateway on loopback: it fails the first fail
// requests with 500 and records the messages it took.
type gateway struct {
	mu   sync.Mutex
	fail int
	got  []central.WebhookMessage
	auth []string
}

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.fail > 0 {
		g.fail--
		http.Error(w, "gateway down", 500)
		return
	}
	var m central.WebhookMessage
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	g.got = append(g.got, m)
	g.auth = append(g.auth, r.Header.Get("Authorization"))
}

// TestBranchNoticeDisputeDecide: an attacker registers a branch under an
// existing business number; the existing representative is told through
// the outbox (an SMS gateway webhook), disputes the branch, which is held
// until the operator removes it.
func TestBranchNoticeDisputeDecide(t *testing.T) {
	gw := &gateway{fail: 1}
	gs := httptest.NewServer(gw)
	defer gs.Close()
	o := secure
	o.Sender = central.WebhookSender{URL: gs.URL, Token: "gateway-token"}
	forEachBackend(t, o, func(t *testing.T, e *env) {
		gw.mu.Lock()
		gw.fail, gw.got, gw.auth = 1, nil, nil
		gw.mu.Unlock()
		ctx := context.Background()
		owner := e.facility(t, "124810099", "서울 중구 세종대로 1")
		// Another business, and a registration under the owner's number.
		e.facility(t, "220816251", "서울 중구 2")
		if ns, err := e.st.Notices(ctx, false, 10); err != nil || len(ns) != 0 {
			t.Fatalf("notices before a branch: %+v %v", ns, err)
		}
		e.clk.Advance(time.Hour)
		reg := registration(validNumber("124810099"), "부산 해운대구 가짜로 9")
		reg.Name, reg.Representative, reg.Phone = "가짜 지점", "박공격", "010-9999-0000"
		var fake api.Registered
		e.ok(t, 201, "POST", api.PathFacilities, "", reg, &fake)
		if fake.Facility.Status != api.FacilityActive {
			t.Fatalf("branch status %s", fake.Facility.Status)
		}
		ns, err := e.st.Notices(ctx, true, 10)
		if err != nil || len(ns) != 1 {
			t.Fatalf("outbox = %+v %v", ns, err)
		}
		n := ns[0]
		if n.Facility != owner.Facility.ID || n.Branch != fake.Facility.ID || n.Phone != owner.Facility.Phone ||
			!strings.Contains(n.Text, "가짜 지점") || !strings.Contains(n.Text, fake.Facility.ID) || !strings.Contains(n.Text, "124-81-00998") {
			t.Fatalf("notice = %+v", n)
		}
		// The gateway is down at first: the notice stays in the outbox.
		if sent, err := e.c.SendNotices(ctx); err != nil || sent != 0 {
			t.Fatalf("first round: %d %v", sent, err)
		}
		if ns, _ := e.st.Notices(ctx, true, 10); len(ns) != 1 || ns[0].Attempts != 1 || !strings.Contains(ns[0].LastError, "500") {
			t.Fatalf("after a failed send: %+v", ns)
		}
		if sent, err := e.c.SendNotices(ctx); err != nil || sent != 1 {
			t.Fatalf("second round: %d %v", sent, err)
		}
		if ns, _ := e.st.Notices(ctx, true, 10); len(ns) != 0 {
			t.Fatalf("unsent after delivery: %+v", ns)
		}
		gw.mu.Lock()
		if len(gw.got) != 1 || gw.got[0].To != owner.Facility.Phone || gw.got[0].ID != n.ID || gw.auth[0] != "Bearer gateway-token" {
			t.Fatalf("gateway got %+v %v", gw.got, gw.auth)
		}
		gw.mu.Unlock()

		// Only the owner's manager may dispute it; the branch itself, an
		// unrelated business and devices may not.
		path := api.FacilityPath(fake.Facility.ID, "dispute")
		e.fails(t, 403, "forbidden", "POST", path, fake.ManagerCredential, api.DisputeRequest{})
		other := e.facility(t, "220816251", "서울 중구 3")
		e.fails(t, 403, "forbidden", "POST", path, other.ManagerCredential, api.DisputeRequest{})
		e.fails(t, 401, "missing_credential", "POST", path, "", api.DisputeRequest{})
		// The branch works until it is disputed.
		dev := e.enroll(t, fake, "정문")
		var f api.Facility
		e.ok(t, 200, "POST", path, owner.ManagerCredential, api.DisputeRequest{Reason: "우리 지점이 아닙니다"}, &f)
		if f.Status != api.FacilityDisputed {
			t.Fatalf("after dispute: %+v", f)
		}
		// Held: its manager and device are refused.
		e.fails(t, 403, "facility_held", "POST", api.FacilityPath(fake.Facility.ID, "enrollment-codes"), fake.ManagerCredential, api.CodeRequest{Entrance: "후문"})
		e.fails(t, 403, "facility_held", "POST", api.PathScans, dev.Credential, api.ScanBatch{Scans: []api.Scan{e.scan(t, dev.Facility, dev.Device, e.clk.Now())}})
		var held api.Facilities
		e.ok(t, 200, "GET", api.PathFacilities+"?status=disputed", adminCred, nil, &held)
		if len(held.Facilities) != 1 || held.Facilities[0].ID != fake.Facility.ID {
			t.Fatalf("disputed list = %+v", held)
		}
		// The operator decides.
		decide := api.FacilityPath(fake.Facility.ID, "decide")
		e.fails(t, 403, "forbidden", "POST", decide, owner.ManagerCredential, api.Decision{Decision: "remove"})
		e.fails(t, 400, "bad_decision", "POST", decide, adminCred, api.Decision{Decision: "maybe"})
		e.ok(t, 200, "POST", decide, adminCred, api.Decision{Decision: api.DecisionRemove}, &f)
		if f.Status != api.FacilityRemoved {
			t.Fatalf("after decision: %+v", f)
		}
		e.fails(t, 403, "facility_removed", "POST", api.PathScans, dev.Credential, api.ScanBatch{})
		e.fails(t, 409, "not_disputed", "POST", decide, adminCred, api.Decision{Decision: api.DecisionKeep})
		e.fails(t, 409, "facility_removed", "POST", path, owner.ManagerCredential, api.DisputeRequest{})

		// A genuine branch disputed by mistake is kept.
		real := e.facility(t, "124810099", "대구 중구 4")
		e.ok(t, 200, "POST", api.FacilityPath(real.Facility.ID, "dispute"), owner.ManagerCredential, api.DisputeRequest{}, &f)
		e.ok(t, 200, "POST", api.FacilityPath(real.Facility.ID, "decide"), adminCred, api.Decision{Decision: api.DecisionKeep}, &f)
		if f.Status != api.FacilityActive {
			t.Fatalf("kept: %+v", f)
		}
		e.enroll(t, real, "정문")
		// Every branch registration was told to the first facility of its number.
		ns, _ = e.st.Notices(ctx, false, 10)
		told := map[string]string{} // branch -> facility told
		for _, n := range ns {
			told[n.Branch] = n.Facility
		}
		if len(ns) != 3 || told[fake.Facility.ID] != owner.Facility.ID || told[real.Facility.ID] != owner.Facility.ID ||
			told[other.Facility.ID] == "" || told[other.Facility.ID] == owner.Facility.ID {
			t.Fatalf("outbox = %+v", ns)
		}
	})
}

// TestFileSenderWritesNotices: the file sender appends each notice as a
// JSON line to a 0600 file.
func TestFileSenderWritesNotices(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notices.jsonl")
	fs := &central.FileSender{Path: path}
	for _, id := range []string{"N-1", "N-2"} {
		if err := fs.Send(context.Background(), central.Notice{ID: id, Phone: "02-123-4567", Text: "새 지점"}); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var n central.Notice
	if len(lines) != 2 || json.Unmarshal([]byte(lines[1]), &n) != nil || n.ID != "N-2" || n.Text != "새 지점" {
		t.Fatalf("file = %q", b)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
}
