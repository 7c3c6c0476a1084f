package central_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/kipass/kipass/central"
	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/clock"
)

// FuzzRequestBodies sends arbitrary bodies to every endpoint that reads
// one: central answers a 2xx or a 4xx, never a 5xx or a panic.
func FuzzRequestBodies(f *testing.F) {
	for _, s := range []string{
		`{"scans":[{"id":"x","facility":"F","device":"D","device_time":"2026-11-22T10:00:00Z","corrected_time":"2026-11-22T10:00:00Z","token":"KP1:AAAA","verdict":"pending"}]}`,
		`{"scans":null}`, `[]`, `{"business_number":"124-81-00998","name":"x"}`, `{"code":"AAAA-BBBB-CCCC"}`,
		`{"facility":"F","device":"D","queue_depth":1e309}`, `{"device_time":"9999-12-31T23:59:59Z","facility":"F","device":"D"}`,
		"\x00\xff", `{"entrance":"` + "\u202e" + `"}`,
	} {
		f.Add(s)
	}
	st, err := central.OpenBolt(filepath.Join(f.TempDir(), "fuzz.db"))
	if err != nil {
		f.Fatal(err)
	}
	c := central.New(st, central.Options{Clock: clock.NewFake(time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)), Log: quietLog()})
	f.Cleanup(func() { c.Close() })
	h := c.Handler()
	paths := []string{api.PathScans, api.PathHeartbeat, api.PathFacilities, api.PathEnroll}
	f.Fuzz(func(t *testing.T, body string) {
		for _, p := range paths {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, p, bytes.NewReader([]byte(body))))
			if w.Code >= 500 {
				t.Fatalf("%s %q: %d %s", p, body, w.Code, w.Body)
			}
		}
	})
}

func FuzzBusinessNumber(f *testing.F) {
	for _, s := range []string{"124-81-00998", "1248100998", "", "---", "１２４８１００９９８"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := central.NormalizeBusinessNumber(s)
		if err != nil {
			return
		}
		if len(n) != 10 || central.BusinessNumberCheckDigit(n[:9]) != n[9] {
			t.Fatalf("%q normalised to %q", s, n)
		}
	})
}
