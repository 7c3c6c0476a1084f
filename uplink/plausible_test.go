package uplink

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kipass/kipass/central"
	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/queue"
	"github.com/kipass/kipass/token"
)

// TestTimeMismatchDeadLettered: a verified scan whose corrected time its
// token contradicts (recorded 6 hours after the token expired) is refused
// by a real central with time_mismatch, and the device moves it to its
// dead letters while the good scans beside it are acknowledged.
func TestTimeMismatchDeadLettered(t *testing.T) {
	f := newFixture(t)
	f.enqueue(t, 2, "F1", "D1")
	issued := time.Now().Add(-7 * time.Hour)
	tok, err := token.Signer{Key: f.key}.Issue(issued)
	if err != nil {
		t.Fatal(err)
	}
	seen := issued.Add(token.Validity + 6*time.Hour)
	bad := queue.Record{Scan: api.Scan{ID: token.ScanID("D1", tok), Facility: "F1", Device: "D1", DeviceTime: seen, CorrectedTime: seen, Token: tok, Verdict: string(token.Verified)}}
	if _, err := f.q.Enqueue(bad); err != nil {
		t.Fatal(err)
	}
	c := f.central(t)
	srv := httptest.NewServer(c.Handler())
	defer srv.Close()
	s := New(f.q, Options{Central: centralAt(t, srv.URL, nil, 0)})
	if n, err := s.SendOnce(context.Background()); err != nil || n != 3 {
		t.Fatalf("n=%d err=%v", n, err)
	}
	st, _ := f.q.Stats()
	if st.Depth != 0 || st.Dead != 1 {
		t.Fatalf("stats = %+v, want depth 0 dead 1", st)
	}
	dl, err := f.q.DeadLetters(10)
	if err != nil || len(dl) != 1 || dl[0].ID != bad.ID || dl[0].Reason != central.ReasonTimeMismatch {
		t.Fatalf("dead letters = %+v %v", dl, err)
	}
	if n, _ := c.ScanCount(); n != 2 {
		t.Fatalf("central stored %d, want 2", n)
	}
}
