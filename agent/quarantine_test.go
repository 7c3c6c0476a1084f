package agent

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kipass/kipass/clock"
	"github.com/kipass/kipass/queue"
	"github.com/kipass/kipass/status"
	"github.com/kipass/kipass/token"
)

// After a damaged queue file is quarantined, the storage alarm and the
// 503 from /healthz last only until the queue records a scan again.
func TestHealthzRecoversOnceTheQueueRecordsAgain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queue.db")
	q, err := queue.Open(path, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	q.Close()
	f, _ := os.OpenFile(path, os.O_RDWR, 0)
	page := int64(os.Getpagesize())
	f.WriteAt([]byte{0xFF, 0xEE, 0xDD, 0xCC}, 20)
	f.WriteAt([]byte{0xFF, 0xEE, 0xDD, 0xCC}, page+20)
	f.Close()
	if q, err = queue.Open(path, queue.Options{}); err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if len(q.Alarms()) != 1 {
		t.Fatalf("alarms = %+v", q.Alarms())
	}
	r := newRigWith(t, 100, func(p *Parts, o *Options) {
		o.Clock = clock.NewFake(time.Now())
		p.Store, p.Watch = q, Watch{Storage: q}
	})
	srv, err := status.New(status.Options{Source: r.a, Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	health := func() int {
		resp, err := http.Get(hs.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := health(); c != http.StatusServiceUnavailable {
		t.Fatalf("healthz right after the quarantine = %d", c)
	}
	tok, _ := token.Signer{Key: r.key}.Issue(time.Now())
	r.a.HandleText(context.Background(), tok, time.Now())
	if st, _ := q.Stats(); st.Depth != 1 {
		t.Fatalf("scan not recorded: %+v", st)
	}
	if c := health(); c != http.StatusOK {
		t.Fatalf("healthz once the queue records again = %d (%+v)", c, r.a.Snapshot().Storage)
	}
}
