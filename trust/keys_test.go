package trust

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kipass/kipass/central/client"
	"github.com/kipass/kipass/token"
)

// centralClient is the one client for central at url; onTime receives
// central's clock from every answer that carries it.
func centralClient(t *testing.T, url string, onTime func(sent, received, server time.Time)) *Client {
	t.Helper()
	c, err := client.New(client.Options{URL: url, OnServerTime: onTime})
	if err != nil {
		t.Fatal(err)
	}
	return &Client{Central: c}
}

func verdictWith(t *testing.T, keys *token.KeySet, text string) string {
	t.Helper()
	_, err := token.Verifier{Keys: keys, Skew: time.Second}.Verify(text, t0)
	return token.Reason(err)
}

// TestKeyRotationAgainstCentral fetches the key set from a real central on
// loopback through a rotation: a second key added while the first is still
// valid, then the first revoked, then central down (the cached set stays in
// force, with a warning), then a restart from the cache alone.
func TestKeyRotationAgainstCentral(t *testing.T) {
	k1, k2 := mustKey(t, "naver"), mustKey(t, "naver")
	env := newCentral(t, k1.Public())
	cache := filepath.Join(t.TempDir(), "keys.json")
	log, logs := newLog()
	keys, err := OpenKeys(KeysOptions{Path: cache, Client: centralClient(t, env.srv.URL, nil), Log: log})
	if err != nil {
		t.Fatal(err)
	}
	tok1, tok2 := mustIssue(t, k1, t0), mustIssue(t, k2, t0)
	if got := verdictWith(t, keys.Set(), tok1); got != "unknown_key" {
		t.Fatalf("before the first fetch: %s", got)
	}
	ctx := context.Background()
	steps := []struct {
		name       string
		central    []token.PublicKey
		down       bool
		want1      string
		want2      string
		keys, revd int
	}{
		{"first fetch", []token.PublicKey{k1.Public()}, false, "ok", "unknown_key", 1, 0},
		{"rotation: both keys valid", []token.PublicKey{k1.Public(), k2.Public()}, false, "ok", "ok", 2, 0},
		{"old key revoked", []token.PublicKey{revoked(k1.Public()), k2.Public()}, false, "revoked_key", "ok", 2, 1},
		{"central answers an empty set", nil, false, "revoked_key", "ok", 2, 1},
		{"central down: cached set in force", nil, true, "revoked_key", "ok", 2, 1},
	}
	for _, s := range steps {
		env.keys.Replace(s.central)
		if s.down {
			env.srv.Close()
		}
		err := keys.Fetch(ctx)
		if (s.down || s.central == nil) != (err != nil) {
			t.Fatalf("%s: fetch error %v", s.name, err)
		}
		if s.central == nil && !s.down && !errors.Is(err, ErrEmptyKeySet) {
			t.Fatalf("%s: %v, want ErrEmptyKeySet", s.name, err)
		}
		if err != nil && !errors.Is(err, client.ErrRetryable) {
			t.Fatalf("%s: %v is not retryable", s.name, err)
		}
		if g1, g2 := verdictWith(t, keys.Set(), tok1), verdictWith(t, keys.Set(), tok2); g1 != s.want1 || g2 != s.want2 {
			t.Fatalf("%s: token 1 %s, token 2 %s; want %s, %s", s.name, g1, g2, s.want1, s.want2)
		}
		st := keys.Status()
		if st.Keys != s.keys || st.Revoked != s.revd || (err != nil) != (st.Failures > 0) {
			t.Fatalf("%s: status %+v", s.name, st)
		}
	}
	if st := keys.Status(); st.Failures != 2 || st.LastError == "" || st.LastFetch.IsZero() {
		t.Fatalf("status after two failures: %+v", st)
	}
	if !strings.Contains(logs.String(), "cached set stays in force") {
		t.Fatalf("no warning logged:\n%s", logs)
	}

	// A restart with central still down: the cache alone is in force.
	again, err := OpenKeys(KeysOptions{Path: cache, Client: centralClient(t, env.srv.URL, nil), Log: log})
	if err != nil {
		t.Fatal(err)
	}
	if g1, g2 := verdictWith(t, again.Set(), tok1), verdictWith(t, again.Set(), tok2); g1 != "revoked_key" || g2 != "ok" {
		t.Fatalf("from the cache: %s, %s", g1, g2)
	}
}

func revoked(k token.PublicKey) token.PublicKey {
	k.Revoked = true
	return k
}

func TestKeysCacheBad(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "keys.json")
	os.WriteFile(bad, []byte(`{"keys":[{"kid":"01","issuer":"x","public":"AAAA"}]}`), 0o644)
	if _, err := OpenKeys(KeysOptions{Path: bad}); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("short key in cache: %v", err)
	}
	log, logs := newLog()
	k, err := OpenKeys(KeysOptions{Path: filepath.Join(dir, "missing.json"), Log: log})
	if err != nil || k.Status().Keys != 0 || !strings.Contains(logs.String(), "no cached issuer key set") {
		t.Fatalf("missing cache: %v %+v\n%s", err, k.Status(), logs)
	}
}

// TestKeysRunAndKick runs the refresher: it fetches at start, and a Kick
// (a token of an unknown key) fetches again without waiting for Refresh.
func TestKeysRunAndKick(t *testing.T) {
	k1, k2 := mustKey(t, "kakao"), mustKey(t, "kakao")
	env := newCentral(t, k1.Public())
	log, _ := newLog()
	keys, err := OpenKeys(KeysOptions{Path: filepath.Join(t.TempDir(), "keys.json"), Client: centralClient(t, env.srv.URL, nil),
		Refresh: time.Hour, Retry: 10 * time.Millisecond, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- keys.Run(ctx) }()
	waitFor(t, func() bool { return keys.Status().Keys == 1 })
	env.keys.Replace([]token.PublicKey{k1.Public(), k2.Public()})
	v, err := NewVerifier(VerifierOptions{Keys: keys.Set(), Skew: time.Second, OnUnknownKey: keys.Kick, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	if verdict, _ := v.Check(ctx, mustIssue(t, k2, t0), t0); verdict != token.Invalid {
		t.Fatalf("unknown key offline: %s", verdict)
	}
	waitFor(t, func() bool { return keys.Status().Keys == 2 })
	if verdict, err := v.Check(ctx, mustIssue(t, k2, t0), t0); verdict != token.Verified {
		t.Fatalf("after the kicked fetch: %s %v", verdict, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond with a generous deadline (the machine may be loaded).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 20 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestClockRunLearnsFromCentral runs the clock's sync loop against a real
// central whose clock is an hour ahead of the device's.
func TestClockRunLearnsFromCentral(t *testing.T) {
	env := newCentral(t)
	env.clk.Set(time.Now().Add(time.Hour))
	log, _ := newLog()
	clk := OpenClock(ClockOptions{Log: log})
	client := centralClient(t, env.srv.URL, func(s, r, c time.Time) { clk.Learn(s, r, c) })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- clk.Run(ctx, client, time.Hour) }()
	waitFor(t, func() bool { return clk.Status().Basis == BasisCentral })
	cancel()
	<-done
	st := clk.Status()
	if st.Offset < 59*time.Minute || st.Offset > 61*time.Minute || !st.Alarm {
		t.Fatalf("status = %+v", st)
	}
}
