package trust

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kipass/kipass/atomicfile"
	"github.com/kipass/kipass/central"
	"github.com/kipass/kipass/clock"
	"github.com/kipass/kipass/token"
)

// centralEnv is a real central on loopback, with a fake clock at t0 and a
// switch that makes it slow (it then answers only after the client gave up).
type centralEnv struct {
	srv  *httptest.Server
	c    *central.Server
	keys *token.KeySet
	clk  *clock.Fake
	slow atomic.Bool
	hits atomic.Int64
}

func newCentral(t *testing.T, keys ...token.PublicKey) *centralEnv {
	t.Helper()
	e := &centralEnv{keys: token.NewKeySet(keys...), clk: clock.NewFake(t0)}
	log, _ := newLog()
	c, err := central.Open(filepath.Join(t.TempDir(), "central.db"), central.Options{Keys: e.keys, Clock: e.clk, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	e.c = c
	h := c.Handler()
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.hits.Add(1)
		if e.slow.Load() {
			// Read the body first: the server notices a client that gave up
			// only once the body is consumed.
			b, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(b))
			select {
			case <-r.Context().Done():
				return
			case <-time.After(10 * time.Second):
			}
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { e.srv.Close(); c.Close() })
	return e
}

func mustKey(t testing.TB, issuer string) token.PrivateKey {
	t.Helper()
	k, err := token.GenerateKey(issuer)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustIssue(t testing.TB, k token.PrivateKey, at time.Time) string {
	t.Helper()
	s, err := token.Signer{Key: k}.Issue(at)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestVerdicts is the table of every verdict: offline tokens at the ±skew
// edges on a trusted clock, the same on untrusted clocks, opaque tokens with
// central reachable, slow and down, and tokens of a key the set lacks.
func TestVerdicts(t *testing.T) {
	const skew = 2 * time.Second
	known, rotated := mustKey(t, "dev"), mustKey(t, "pass")
	env := newCentral(t, known.Public(), rotated.Public()) // central already has the rotated key
	down := newCentral(t)
	down.srv.Close()
	slow := newCentral(t, known.Public())
	slow.slow.Store(true)
	const opaqueText = "NV-0123456789ABCDEFGHJK"

	fresh := mustIssue(t, known, t0)
	later := mustIssue(t, known, t0.Add(time.Hour))
	newKey := mustIssue(t, rotated, t0)

	type clockCase string
	const (
		synced    clockCase = "synced"     // offset learned from central: trusted
		synced10m clockCase = "synced+10m" // device 10 min ahead, offset learned: trusted, alarm
		unsynced  clockCase = "unsynced"   // nothing learned: untrusted
		reset     clockCase = "reset"      // RTC reset after a restart: lower bound
	)
	cases := []struct {
		name    string
		clk     clockCase
		text    string
		at      time.Duration // corrected time − t0 (the token's issue time)
		online  *centralEnv
		verdict token.Verdict
		reason  string
	}{
		{"valid at issue", synced, fresh, 0, nil, token.Verified, "ok"},
		{"valid at issue − skew", synced, fresh, -skew, nil, token.Verified, "ok"},
		{"not yet valid at issue − skew − 1 ms", synced, fresh, -skew - time.Millisecond, nil, token.Expired, "not_yet_valid"},
		{"valid at expiry + skew", synced, fresh, token.Validity + skew, nil, token.Verified, "ok"},
		{"expired at expiry + skew + 1 ms", synced, fresh, token.Validity + skew + time.Millisecond, nil, token.Expired, "expired"},
		{"device 10 min ahead, judged on learned offset", synced10m, fresh, 5 * time.Second, nil, token.Verified, "ok"},
		{"device 10 min ahead, expired on learned offset", synced10m, fresh, time.Minute, nil, token.Expired, "expired"},
		{"untrusted clock: expired token pending", unsynced, fresh, time.Hour, nil, token.Pending, ReasonClockUnsure},
		{"untrusted clock: future token pending", unsynced, fresh, -time.Hour, nil, token.Pending, ReasonClockUnsure},
		{"untrusted clock: valid token verified", unsynced, fresh, time.Second, nil, token.Verified, "ok"},
		{"RTC reset: token after lower bound pending", reset, later, 0, nil, token.Pending, ReasonClockUnsure},
		{"RTC reset: token before lower bound expired", reset, fresh, time.Hour, nil, token.Expired, "expired"},
		{"not a token", synced, "hello", 0, env, token.Invalid, "not_token"},
		{"URL", synced, "https://example.com/menu", 0, env, token.Invalid, "not_token"},
		{"truncated token", synced, fresh[:60], 0, env, token.Invalid, "malformed"},
		{"rotated key, offline", synced, newKey, 0, nil, token.Invalid, "unknown_key"},
		{"rotated key, central knows it", synced, newKey, 0, env, token.Verified, "ok"},
		{"rotated key, central down", synced, newKey, 0, down, token.Pending, ReasonCentralUnreachable},
		{"opaque, central has no verdict yet", synced, opaqueText, 0, env, token.Pending, ReasonAwaitingIssuer},
		{"opaque, central down", synced, opaqueText, 0, down, token.Pending, ReasonCentralUnreachable},
		{"opaque, central too slow", synced, opaqueText, 0, slow, token.Pending, ReasonCentralUnreachable},
		{"opaque-looking KP1 text is judged offline", synced, "KP1:NV-0123456789ABCDEFGHJK", 0, env, token.Invalid, "encoding"},
		{"opaque, no central configured", synced, opaqueText, 0, nil, token.Pending, ReasonCentralUnreachable},
	}
	log, logs := newLog()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// The device clock reads central's time plus off; the verifier
			// is handed the corrected time, as the agent does.
			off := time.Duration(0)
			if c.clk == synced10m {
				off = 10 * time.Minute
			}
			dev := clock.NewFake(t0.Add(c.at + off))
			var clk *Clock
			switch c.clk {
			case synced, synced10m:
				clk = OpenClock(ClockOptions{Device: dev, Log: log})
				sent := dev.Now()
				clk.Learn(sent, sent, t0.Add(c.at))
			case unsynced:
				clk = OpenClock(ClockOptions{Device: dev, Log: log})
			case reset:
				path := filepath.Join(t.TempDir(), "clock.json")
				atomicfile.Write(path, []byte(`{"device_time":"`+t0.Format(time.RFC3339)+`","server_time":"`+t0.Format(time.RFC3339)+`"}`), 0o600)
				dev.Set(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))
				clk = OpenClock(ClockOptions{Path: path, Device: dev, Log: log})
				dev.Advance(c.at) // here at is the time since start: the lower bound is t0 + at
			}
			o := VerifierOptions{Keys: token.NewKeySet(known.Public()), Skew: skew, Clock: clk,
				Opaque: []OpaquePattern{{Issuer: "naver", Pattern: `^NV-[0-9A-Z]{20}$`}}, Timeout: 300 * time.Millisecond,
				Facility: "F1", Device: "D1", Log: log}
			if c.online != nil {
				o.Online = centralClient(t, c.online.srv.URL, nil)
			}
			v, err := NewVerifier(o)
			if err != nil {
				t.Fatal(err)
			}
			_, corrected := clk.Now()
			verdict, verr := v.Check(context.Background(), c.text, corrected)
			if verdict != c.verdict || token.Reason(verr) != c.reason {
				t.Fatalf("verdict %s (%s), want %s (%s); err %v", verdict, token.Reason(verr), c.verdict, c.reason, verr)
			}
		})
	}
	if strings.Contains(logs.String(), fresh[10:40]) || strings.Contains(logs.String(), opaqueText) {
		t.Fatal("the log contains token content")
	}
}

// BenchmarkCheck measures the agent's verdict on a valid signed token:
// offline, with a learned clock offset (go test -bench Check ./trust/).
func BenchmarkCheck(b *testing.B) {
	k := mustKey(b, "dev")
	tok := mustIssue(b, k, t0)
	log, _ := newLog()
	dev := clock.NewFake(t0)
	clk := OpenClock(ClockOptions{Device: dev, Log: log})
	clk.Learn(t0, t0, t0)
	v, err := NewVerifier(VerifierOptions{Keys: token.NewKeySet(k.Public()), Skew: 2 * time.Second, Clock: clk,
		Opaque: []OpaquePattern{{Issuer: "naver", Pattern: `^NV-[0-9A-Z]{20}$`}}, Log: log})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	cpu := processCPU()
	for b.Loop() {
		if verdict, err := v.Check(ctx, tok, clk.Correct(dev.Now())); verdict != token.Verified {
			b.Fatal(verdict, err)
		}
	}
	if cpu > 0 {
		b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
	}
}
