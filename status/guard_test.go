package status

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kipass/kipass/clock"
)

// TestPINFileRules: the PIN file must be 0600 and hold 6 to 12 digits.
func TestPINFileRules(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		pin  string
		mode os.FileMode
		want string
	}{
		{"482913", 0o600, ""}, {"482913", 0o644, "readable by others"}, {"482913", 0o640, "readable by others"},
		{"4829", 0o600, "6 to 12 digits"}, {"48291a", 0o600, "6 to 12 digits"}, {"1234567890123", 0o600, "6 to 12 digits"},
	} {
		p := filepath.Join(dir, "pin")
		os.Remove(p)
		os.WriteFile(p, []byte(c.pin+"\n"), c.mode)
		os.Chmod(p, c.mode)
		_, err := LoadPIN(p)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("PIN %q mode %04o: %v, want %q", c.pin, c.mode, err, c.want)
		}
	}
	if _, err := New(Options{Source: staticSource{testSnapshot()}, PIN: "2468"}); err == nil {
		t.Error("a 4-digit PIN was accepted")
	}
}

// TestPINLockoutPerClient: one client's wrong PINs lock that client out,
// for longer after each further wrong PIN up to a cap; another client
// still unlocks with the right PIN at once.
func TestPINLockoutPerClient(t *testing.T) {
	fc := clock.NewFake(testNow)
	g := newGuard("482913", fc)
	for i := 1; i < MaxPINFailures; i++ {
		if _, err := g.login("10.0.0.66", "000000"); !errors.Is(err, ErrPIN) {
			t.Fatalf("wrong PIN %d: %v", i, err)
		}
	}
	if _, err := g.login("10.0.0.66", "000000"); !errors.Is(err, ErrLocked) {
		t.Fatalf("wrong PIN %d: %v, want locked", MaxPINFailures, err)
	}
	if _, err := g.login("10.0.0.66", "482913"); !errors.Is(err, ErrLocked) {
		t.Fatalf("locked client with the right PIN: %v", err)
	}
	if _, err := g.login("10.0.0.7", "482913"); err != nil {
		t.Fatalf("another manager is locked out by a stranger: %v", err)
	}
	// Each wrong PIN after a lockout doubles it, up to the cap.
	want := PINLockout
	for i := 0; i < 12; i++ {
		fc.Advance(want)
		if _, err := g.login("10.0.0.66", "000000"); !errors.Is(err, ErrLocked) {
			t.Fatalf("round %d: %v", i, err)
		}
		want = min(want*2, PINLockoutMax)
		fc.Advance(want - time.Second)
		if _, err := g.login("10.0.0.66", "482913"); !errors.Is(err, ErrLocked) {
			t.Fatalf("round %d: unlocked before %v", i, want)
		}
		fc.Advance(-want + time.Second)
	}
	if lockout(100) != PINLockoutMax {
		t.Fatalf("lockout is not capped: %v", lockout(100))
	}
	fc.Advance(PINLockoutMax)
	if _, err := g.login("10.0.0.66", "482913"); err != nil {
		t.Fatalf("after the capped lockout: %v", err)
	}
	// Many clients do not grow the memory without bound.
	for i := 0; i < 3*maxClients; i++ {
		g.login(strings.Repeat("x", i%7)+string(rune('a'+i%26))+time.Duration(i).String(), "000000")
	}
	if len(g.clients) > maxClients {
		t.Fatalf("%d clients remembered", len(g.clients))
	}
}

// TestPostsCheckOrigin: every POST refuses a cross-site browser request
// (a foreign Origin, an opaque Origin, or Sec-Fetch-Site cross-site), while
// the CLI's plain POST to /api/flush still works.
func TestPostsCheckOrigin(t *testing.T) {
	flushed := 0
	srv, err := New(Options{Source: staticSource{testSnapshot()}, Drainer: drainFunc(func() { flushed++ }),
		Settings: FileSettings{Path: filepath.Join(t.TempDir(), "s.json")}, PIN: "482913"})
	if err != nil {
		t.Fatal(err)
	}
	base := serve(t, srv)
	post := func(path string, h map[string]string) int {
		req, _ := http.NewRequest("POST", base+path, strings.NewReader("pin=482913"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, path := range []string{"/api/flush", "/settings/login", "/settings/logout", "/settings", "/settings/flush"} {
		for _, h := range []map[string]string{
			{"Origin": "http://evil.example"}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"},
			{"Sec-Fetch-Site": "same-site"}, {"Origin": strings.Replace(base, "127.0.0.1", "localhost", 1)},
		} {
			if code := post(path, h); code != http.StatusForbidden {
				t.Errorf("POST %s with %v: %d, want 403", path, h, code)
			}
		}
	}
	if flushed != 0 {
		t.Fatalf("a cross-site request flushed the queue %d times", flushed)
	}
	if code := post("/api/flush", nil); code != http.StatusAccepted || flushed != 1 {
		t.Fatalf("CLI flush: %d, flushed %d", code, flushed)
	}
	if code := post("/api/flush", map[string]string{"Origin": base, "Sec-Fetch-Site": "same-origin"}); code != http.StatusAccepted {
		t.Fatalf("same-origin flush: %d", code)
	}
}

// drainFunc adapts a function to Drainer.
type drainFunc func()

func (f drainFunc) Flush() { f() }
