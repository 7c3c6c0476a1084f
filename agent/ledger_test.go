package agent

import (
	"context"
	"fmt"
	"image"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kipass/kipass/camera"
	"github.com/kipass/kipass/camera/engine"
	"github.com/kipass/kipass/central"
	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/clock"
	"github.com/kipass/kipass/ledger"
	"github.com/kipass/kipass/logging"
	"github.com/kipass/kipass/queue"
	"github.com/kipass/kipass/screen"
	"github.com/kipass/kipass/token"
)

// withLedger gives the rig the paper ledger of F1/D1 and returns its codes.
func (r *rig) withLedger(t *testing.T) (*ledger.Codes, *ledger.Book) {
	t.Helper()
	dir := t.TempDir()
	codes, err := ledger.OpenCodes(filepath.Join(dir, "ledger.key"), "F1", "D1")
	if err != nil {
		t.Fatal(err)
	}
	book, err := ledger.OpenBook(filepath.Join(dir, "ledger.json"), r.a.o.Clock)
	if err != nil {
		t.Fatal(err)
	}
	// The agent is built again with the ledger among its parts.
	p := r.a.p
	p.Ledger = paperLedger{codes: codes, book: book}
	if r.a, err = New(p, r.a.o); err != nil {
		t.Fatal(err)
	}
	return codes, book
}

// prompts returns the prompts the silent speaker logged, in order.
func (r *rig) prompts() []string {
	var out []string
	for _, line := range strings.Split(r.logBuf.String(), "\n") {
		if i := strings.Index(line, "prompt="); i >= 0 && strings.Contains(line, "audio: prompt") {
			out = append(out, strings.Fields(line[i+len("prompt="):])[0])
		}
	}
	return out
}

func foreignCodes(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	mk := func(name, fac, dev string) string {
		c, err := ledger.OpenCodes(filepath.Join(dir, name), fac, dev)
		if err != nil {
			t.Fatal(err)
		}
		return c.Make(ledger.Paper)
	}
	return map[string]string{
		"other facility":                    mk("a.key", "F2", "D1"),
		"other device":                      mk("b.key", "F1", "D9"),
		"same ids, forged with another key": mk("c.key", "F1", "D1"),
	}
}

// A control code of another facility or device, or a forged one, is refused
// aloud, records nothing and never reaches the token check: by camera frame.
func TestForeignControlCodeRefusedByCamera(t *testing.T) {
	r := newRig(t, 0)
	codes, book := r.withLedger(t)
	book.Start("")
	for name, code := range foreignCodes(t) {
		r.a.handleFrame(context.Background(), r.frame(t, code))
		if st, _ := r.q.Stats(); st.Depth != 0 {
			t.Fatalf("%s: recorded (depth %d)", name, st.Depth)
		}
	}
	if got := r.prompts(); len(got) != 3 || got[0] != "control-refused" || got[2] != "control-refused" {
		t.Fatalf("prompts = %v, want control-refused ×3", got)
	}
	if len(r.scans) != 0 {
		t.Fatalf("control codes were judged as tokens: %+v", r.scans)
	}
	// This device's own codes work through the same camera path.
	r.a.handleFrame(context.Background(), r.frame(t, codes.Make(ledger.Paper)))
	r.a.handleFrame(context.Background(), r.frame(t, codes.Make(ledger.NoPhone)))
	got := r.prompts()
	if got[3] != "paper-recorded" || got[4] != "ledger-instructions" {
		t.Fatalf("own codes: prompts %v", got)
	}
	recs, _ := r.q.Oldest(10)
	if len(recs) != 1 || recs[0].Kind != queue.KindPaper || recs[0].Token != "" || !strings.HasPrefix(recs[0].ID, api.PaperIDPrefix) {
		t.Fatalf("queue = %+v", recs)
	}
	if s := book.Sheets(); len(s) != 1 || s[0].Entries != 1 {
		t.Fatalf("sheet = %+v", s)
	}
	if strings.Contains(r.logBuf.String(), codes.Make(ledger.Paper)) {
		t.Fatal("the log holds a control code")
	}
}

// The same, through a scan engine (a PDA's built-in reader).
func TestForeignControlCodeRefusedByScanEngine(t *testing.T) {
	r := newRig(t, 0)
	codes, _ := r.withLedger(t)
	pr, pw := io.Pipe()
	r.a.p.Codes = engine.NewReader(pr, "test-engine", engine.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	ended := make(chan struct{})
	r.a.o.OnSourceEnd = func() { close(ended) }
	done := make(chan error, 1)
	go func() { done <- r.a.Run(ctx) }()
	for _, code := range foreignCodes(t) {
		fmt.Fprintf(pw, "%s\r\n", code)
	}
	fmt.Fprintf(pw, "%s\r\n", codes.Make(ledger.Paper))
	pw.Close()
	select {
	case <-ended:
	case <-time.After(30 * time.Second):
		t.Fatal("engine source did not end")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := r.prompts()
	want := []string{"control-refused", "control-refused", "control-refused", "paper-recorded"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("prompts = %v, want %v", got, want)
	}
	if st, _ := r.q.Stats(); st.Depth != 1 || len(r.scans) != 0 {
		t.Fatalf("depth %d, scans %+v", st.Depth, r.scans)
	}
}

// When a scan cannot be recorded the visitor is sent to the paper ledger,
// at most once a minute; in between, the storage-failure prompt.
func TestLedgerPromptAtMostOnceAMinute(t *testing.T) {
	r := newRig(t, 1)
	clk := clock.NewFake(time.Now())
	r.a.o.Clock = clk
	issue := func() string {
		tok, _ := token.Signer{Key: r.key}.Issue(clk.Now())
		return tok
	}
	r.a.HandleText(context.Background(), issue(), clk.Now()) // fills the queue
	for _, step := range []time.Duration{time.Second, 30 * time.Second, 30 * time.Second} {
		clk.Advance(step)
		r.a.HandleText(context.Background(), issue(), clk.Now())
	}
	// The staff button on a full queue: the reminder was played 59 s ago.
	clk.Advance(time.Second)
	if _, err := r.a.RecordPaper(1, "test"); err == nil {
		t.Fatal("a paper visit was recorded on a full queue")
	}
	want := []string{"verified", "ledger-please", "storage-failure", "ledger-please", "storage-failure"}
	if got := r.prompts(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("prompts = %v, want %v", got, want)
	}
	if _, err := r.a.RecordPaper(0, "test"); err != ErrPaperCount {
		t.Fatalf("zero paper visits: %v", err)
	}
}

// lossyCentral stands before central: offline (connections cut) while
// offline is set, then it forwards the first batch and cuts the
// connection before the device hears the answer.
type lossyCentral struct {
	mu       sync.Mutex
	offline  bool
	loseNext bool
	lost     int
	err      error
	proxy    *httputil.ReverseProxy
	upstream string
}

func (l *lossyCentral) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	offline, lose := l.offline, !l.offline && l.loseNext && r.URL.Path == api.PathScans
	if lose {
		l.loseNext = false
	}
	l.mu.Unlock()
	cut := func() {
		c, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			c.Close()
		}
	}
	switch {
	case offline:
		cut()
	case lose:
		req, _ := http.NewRequest(r.Method, l.upstream+r.URL.RequestURI(), r.Body)
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			l.err = err
		}
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			l.mu.Lock()
			l.lost++
			l.mu.Unlock()
		}
		cut() // central stored the batch; the device never hears it
	default:
		l.proxy.ServeHTTP(w, r)
	}
}

// A paper visit recorded while central is unreachable (staff scan the
// ledger cover's code with the camera) is delivered later and counted
// once at central, although the first answer to it is lost.
func TestPaperVisitOfflineDeliveredLaterCountedOnce(t *testing.T) {
	dir := t.TempDir()
	clk := clock.NewSlowed(10)
	st, err := central.OpenBolt(filepath.Join(dir, "central.db"))
	if err != nil {
		t.Fatal(err)
	}
	cs := central.New(st, central.Options{Clock: clk})
	defer cs.Close()
	cen := httptest.NewServer(cs.Handler())
	defer cen.Close()
	u, _ := url.Parse(cen.URL)
	lossy := &lossyCentral{offline: true, loseNext: true, proxy: httputil.NewSingleHostReverseProxy(u), upstream: cen.URL}
	front := httptest.NewServer(lossy)
	defer front.Close()

	// The ledger key is made before the agent starts, so the code printed
	// for the ledger's cover can be rendered into the camera's frames.
	dataDir := filepath.Join(dir, "agent")
	codes, err := ledger.OpenCodes(filepath.Join(dataDir, "ledger.key"), "FAC-P", "gate-p")
	if err != nil {
		t.Fatal(err)
	}
	so := screen.Options{Width: 640, Height: 480}
	img, err := screen.Render(codes.Make(ledger.Paper), so)
	if err != nil {
		t.Fatal(err)
	}
	if err := camera.WriteFolder(filepath.Join(dir, "frames"), []*image.Gray{img, img, screen.Blank(so)}); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Facility: "FAC-P", Device: "gate-p", Source: "folder:" + filepath.Join(dir, "frames"),
		DataDir: dataDir, CentralURL: front.URL, Audio: AudioConfig{Device: "none"}}
	cfg.SetDefaults()
	cfg.Status = StatusConfig{Listen: StatusOff}
	logs := &syncBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ended := make(chan struct{})
	var once sync.Once
	a, err := Open(ctx, cfg, logging.New(logs, "debug"), Hooks{Clock: clk, OnSourceEnd: func() { once.Do(func() { close(ended) }) }, FolderOnce: true})
	if err != nil {
		t.Fatal(err)
	}
	runAgent(t, ctx, a)
	select {
	case <-ended:
	case <-ctx.Done():
		t.Fatal("the frame source did not end")
	}
	if snap := a.Snapshot(); snap.Queue.Depth != 1 {
		t.Fatalf("offline: depth %d, want the paper visit queued", snap.Queue.Depth)
	}
	lossy.mu.Lock()
	lossy.offline = false
	lossy.mu.Unlock()
	for ctx.Err() == nil && a.Snapshot().Queue.Depth != 0 {
		a.Flush()
		time.Sleep(50 * time.Millisecond)
	}
	lossy.mu.Lock()
	lost, lerr := lossy.lost, lossy.err
	lossy.mu.Unlock()
	if lost != 1 {
		t.Fatalf("%d answers lost, want 1 (%v)", lost, lerr)
	}
	now := clk.Now()
	hc, err := st.PaperHourCounts(ctx, "FAC-P", now.Add(-24*time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(hc) != 1 || hc[0].N != 1 || hc[0].Device != "gate-p" {
		t.Fatalf("central's paper counts = %+v, want one visit", hc)
	}
	if n, _ := st.ScanCount(ctx); n != 0 {
		t.Fatalf("a paper visit was stored as a scan (%d scans)", n)
	}
	if !strings.Contains(logs.String(), "paper visits recorded") {
		t.Fatalf("no paper visit in the log:\n%s", logs.String())
	}
}

// With the camera down for more than 30 s, the staff's paper button also
// sends visitors to the paper ledger, at most once a minute; before 30 s
// it just counts.
func TestCameraDownSendsVisitorsToTheLedger(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))
	dir := t.TempDir()
	src, err := camera.Open(context.Background(), "folder:"+dir, camera.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	r := newRigWith(t, 0, func(p *Parts, o *Options) {
		o.Clock = clk
		p.Frames = src // a camera device whose camera delivers nothing
	})
	var got []string
	for _, at := range []time.Duration{20 * time.Second, 31 * time.Second, 50 * time.Second, 92 * time.Second} {
		clk.Set(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC).Add(at))
		if _, err := r.a.RecordPaper(1, "test"); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%v:%s", at, r.prompts()[len(r.prompts())-1]))
	}
	want := "[20s:paper-recorded 31s:ledger-please 50s:paper-recorded 1m32s:ledger-please]"
	if fmt.Sprint(got) != want {
		t.Fatalf("prompts = %v, want %s", got, want)
	}
	if st, _ := r.q.Stats(); st.Depth != 4 {
		t.Fatalf("paper visits recorded: %d, want 4 (the camera does not stop the count)", st.Depth)
	}
}
