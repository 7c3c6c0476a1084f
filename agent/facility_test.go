package agent

import (
	"io"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kipass/kipass/central"
	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/clock"
	"github.com/kipass/kipass/queue"
	"github.com/kipass/kipass/status"
	"github.com/kipass/kipass/token"
)

// TestPageShowsFacilityByEntrance enrolls 정문 and 후문 at a central that
// requires credentials. With its credential, 후문's page shows the whole
// facility from central's stats, by entrance name; once central cannot be
// reached, it shows its own line from its queue, still by name.
func TestPageShowsFacilityByEntrance(t *testing.T) {
	k, _ := token.GenerateKey("dev")
	keys := token.NewKeySet(k.Public())
	c, err := central.Open(filepath.Join(t.TempDir(), "central.db"), central.Options{Keys: keys, RequireCredentials: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv := httptest.NewServer(c.Handler())
	reg := registerFacility(t, srv.URL)
	enrollEntrance(t, srv.URL, reg, "정문")
	back := enrollEntrance(t, srv.URL, reg, "후문")

	a := openAs(t, srv.URL, back.Credential, keys, back.Facility, back.Device, "후문")
	fc := clock.NewFake(time.Now())
	a.obs.facilityStats.clk = fc
	page, err := status.New(status.Options{Source: a, Counter: a.obs.counts(), Facility: a.obs.facilityCounter()})
	if err != nil {
		t.Fatal(err)
	}
	get := func() string {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "http://127.0.0.1/?lang=en", nil)
		page.Handler().ServeHTTP(rec, req)
		b, _ := io.ReadAll(rec.Body)
		return string(b)
	}
	body := get()
	for _, want := range []string{"whole facility · from central", "<td>정문</td>", "<td>후문</td>"} {
		if !strings.Contains(body, want) {
			t.Errorf("page with central lacks %q", want)
		}
	}
	if strings.Contains(body, "<td>D-") {
		t.Error("the page names an entrance by its device id")
	}

	srv.Close() // central is gone
	fc.Advance(FacilityStatsEvery + time.Second)
	now := time.Now()
	if _, err := a.p.Store.Enqueue(queue.Record{Scan: api.Scan{ID: "s1", Facility: back.Facility, Device: back.Device, DeviceTime: now, CorrectedTime: now, Token: "KP1:T", Verdict: "verified"}}); err != nil {
		t.Fatal(err)
	}
	body = get()
	for _, want := range []string{"this device only", "<td>후문</td>"} {
		if !strings.Contains(body, want) {
			t.Errorf("page without central lacks %q", want)
		}
	}
	if strings.Contains(body, "<td>정문</td>") {
		t.Error("the page shows 정문's counts although central cannot be reached")
	}
}
