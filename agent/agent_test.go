package agent

import (
	"bytes"
	"context"
	"image"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kipass/kipass/audio"
	"github.com/kipass/kipass/camera"
	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/decode"
	"github.com/kipass/kipass/queue"
	"github.com/kipass/kipass/screen"
	"github.com/kipass/kipass/token"
)

func TestPromptForEveryVerdict(t *testing.T) {
	cases := []struct {
		v        token.Verdict
		recorded bool
		want     audio.Prompt
	}{
		{token.Verified, true, audio.Verified},
		{token.Verified, false, audio.StorageFailure},
		{token.Pending, true, audio.Pending},
		{token.Pending, false, audio.StorageFailure},
		{token.Invalid, false, audio.Invalid},
		{token.Expired, false, audio.Expired},
	}
	for _, c := range cases {
		if got := PromptFor(c.v, c.recorded); got != c.want {
			t.Errorf("PromptFor(%s, %v) = %s, want %s", c.v, c.recorded, got, c.want)
		}
	}
}

// rig is an agent over real parts: a real queue file, the real decoder,
// the real verifier and the real (silent) speaker, whose log we read.
type rig struct {
	a      *Agent
	q      *queue.Queue
	key    token.PrivateKey
	logBuf *bytes.Buffer
	mu     sync.Mutex
	scans  []Scan
}

func newRig(t *testing.T, maxRecords int) *rig {
	t.Helper()
	return newRigWith(t, maxRecords, nil)
}

// newRigWith is newRig with parts and options adjusted by opt (when not nil).
func newRigWith(t *testing.T, maxRecords int, opt func(*Parts, *Options)) *rig {
	t.Helper()
	r := &rig{logBuf: &bytes.Buffer{}}
	q, err := queue.Open(filepath.Join(t.TempDir(), "queue.db"), queue.Options{MaxRecords: maxRecords})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	r.q = q
	if r.key, err = token.GenerateKey("dev"); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: r.logBuf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	spk, err := audio.Open(audio.Options{Device: "none"}, log)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Facility: "F1", Device: "D1", DedupWindow: 5 * time.Second, Log: log,
		OnScan: func(s Scan) { r.mu.Lock(); r.scans = append(r.scans, s); r.mu.Unlock() }}
	p := Parts{
		// A one-minute budget: machine load must not make a test fail.
		Decoder: decode.New(decode.Options{Budget: time.Minute}), Verifier: token.Verifier{Keys: token.NewKeySet(r.key.Public()), Skew: time.Second},
		Store: q, Speaker: spk,
	}
	if opt != nil {
		opt(&p, &o)
	}
	r.a, err = New(p, o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// renderFrame draws text as a QR on a phone screen seen by the camera.
func renderFrame(text string) (*image.Gray, error) {
	return screen.Render(text, screen.Options{Width: 640, Height: 480})
}

func (r *rig) frame(t *testing.T, text string) camera.Frame {
	t.Helper()
	img, err := renderFrame(text)
	if err != nil {
		t.Fatal(err)
	}
	return camera.Frame{Gray: img, At: time.Now()}
}

func TestRejectionsAreNotRecorded(t *testing.T) {
	r := newRig(t, 0)
	expired, _ := token.Signer{Key: r.key}.Issue(time.Now().Add(-time.Minute))
	for _, text := range []string{"https://example.com/", "hello", expired} {
		r.a.handleFrame(context.Background(), r.frame(t, text))
	}
	if st, _ := r.q.Stats(); st.Depth != 0 {
		t.Fatalf("rejected codes were recorded: depth %d", st.Depth)
	}
	want := []token.Verdict{token.Invalid, token.Invalid, token.Expired}
	if len(r.scans) != 3 {
		t.Fatalf("scans = %+v", r.scans)
	}
	for i, s := range r.scans {
		if s.Verdict != want[i] || s.Recorded {
			t.Errorf("scan %d = %+v, want %s not recorded", i, s, want[i])
		}
	}
	if strings.Contains(r.logBuf.String(), expired[10:40]) {
		t.Fatal("the log contains token content")
	}
}

func TestSameTokenConfirmedOnceRecordedOnce(t *testing.T) {
	r := newRig(t, 0)
	tok, _ := token.Signer{Key: r.key}.Issue(time.Now())
	f := r.frame(t, tok)
	for i := 0; i < 4; i++ {
		r.a.handleFrame(context.Background(), f)
	}
	if len(r.scans) != 1 || r.scans[0].Verdict != token.Verified || !r.scans[0].Recorded {
		t.Fatalf("scans = %+v", r.scans)
	}
	if st, _ := r.q.Stats(); st.Depth != 1 {
		t.Fatalf("depth = %d", st.Depth)
	}
	if !strings.Contains(r.logBuf.String(), "verified") {
		t.Fatalf("the speaker did not log the prompt:\n%s", r.logBuf.String())
	}
}

func TestFullQueueNeverSaysVerified(t *testing.T) {
	r := newRig(t, 1)
	for i := 0; i < 2; i++ {
		tok, _ := token.Signer{Key: r.key}.Issue(time.Now())
		r.a.handleFrame(context.Background(), r.frame(t, tok))
	}
	if len(r.scans) != 2 {
		t.Fatalf("scans = %+v", r.scans)
	}
	if r.scans[0].Prompt != audio.Verified || r.scans[1].Prompt != audio.LedgerPlease || r.scans[1].Recorded { // sent to the paper ledger
		t.Fatalf("second scan on a full queue: %+v", r.scans[1])
	}
	if got := r.a.Stats().StoreFailures; got != 1 {
		t.Fatalf("store failures = %d", got)
	}
}

// TestHandleTextConcurrent judges texts from many goroutines at once, as
// the scan loop and kipass-agent feed do, over a real bbolt queue: every
// distinct token is recorded exactly once, repeats are suppressed, and the
// counters add up. Run under -race it proves HandleText safe.
func TestHandleTextConcurrent(t *testing.T) {
	r := newRig(t, 0)
	const distinct, workers = 40, 16
	toks := make([]string, distinct)
	for i := range toks {
		var err error
		if toks[i], err = (token.Signer{Key: r.key}).Issue(time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	judged := 0
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < distinct; i++ {
				// Each worker sends every token, starting at its own place.
				if _, ok := r.a.HandleText(context.Background(), toks[(i+w*3)%distinct], time.Now()); ok {
					mu.Lock()
					judged++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if judged != distinct {
		t.Fatalf("%d verdicts for %d distinct tokens sent %d times each", judged, distinct, workers)
	}
	st := r.a.Stats()
	if st.Decoded != distinct || st.Verified != distinct || st.Enqueued != distinct || st.StoreFailures != 0 {
		t.Fatalf("stats = %+v", st)
	}
	qs, err := r.q.Stats()
	if err != nil || qs.Depth != distinct {
		t.Fatalf("queue depth %d (%v), want %d", qs.Depth, err, distinct)
	}
	recs, err := r.q.Oldest(2 * distinct)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, rec := range recs {
		if seen[rec.ID] || rec.Device != "D1" || rec.Verdict != string(token.Verified) {
			t.Fatalf("record %+v (repeat: %v)", rec.Scan.ID, seen[rec.ID])
		}
		seen[rec.ID] = true
	}
	if s := r.a.Snapshot(); s.Scans["verified"] != distinct {
		t.Fatalf("status page counts %d verified", s.Scans["verified"])
	}
}

// TestQueueKeyMissingSendsVisitorsToTheLedger: the queue's key is gone
// while sealed records wait (a restored disk without its credential). The
// door confirms nobody: a valid token is not recorded, "인증되었습니다" is
// never played, and the visitor is sent to the paper ledger.
func TestQueueKeyMissingSendsVisitorsToTheLedger(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queue.db")
	q, err := queue.Open(path, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Enqueue(queue.Record{Scan: api.Scan{ID: "waiting-1", Facility: "F1", Device: "D1",
		DeviceTime: time.Now(), CorrectedTime: time.Now(), Token: "sealed-token", Verdict: "verified"}}); err != nil {
		t.Fatal(err)
	}
	q.Close()
	if err := os.Remove(path + ".key"); err != nil {
		t.Fatal(err)
	}
	q, err = queue.Open(path, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	if h := q.StorageHealth(); !strings.Contains(h, "queue key missing") {
		t.Fatalf("storage health = %q", h)
	}
	r := newRigWith(t, 0, func(p *Parts, o *Options) { p.Store = q })
	tok, _ := token.Signer{Key: r.key}.Issue(time.Now())
	r.a.handleFrame(context.Background(), r.frame(t, tok))
	if len(r.scans) != 1 {
		t.Fatalf("scans = %+v", r.scans)
	}
	if s := r.scans[0]; s.Recorded || s.Prompt == audio.Verified || s.Prompt != audio.LedgerPlease {
		t.Fatalf("a scan with the queue key missing: %+v", s)
	}
	if st, _ := q.Stats(); st.Depth != 1 {
		t.Fatalf("depth = %d, want only the record that was waiting", st.Depth)
	}
}
