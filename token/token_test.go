package token

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

func mustKey(t testing.TB, issuer string) PrivateKey {
	t.Helper()
	k, err := GenerateKey(issuer)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustIssue(t testing.TB, k PrivateKey, at time.Time) string {
	t.Helper()
	s, err := Signer{Key: k}.Issue(at)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestIssueFormat(t *testing.T) {
	k := mustKey(t, "dev")
	tok := mustIssue(t, k, t0)
	if len(tok) != TextSize {
		t.Fatalf("len = %d, want %d", len(tok), TextSize)
	}
	if !strings.HasPrefix(tok, Prefix) {
		t.Fatalf("no prefix: %q", tok[:6])
	}
	const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
	for _, r := range tok {
		if !strings.ContainsRune(alnum, r) {
			t.Fatalf("character %q is outside QR alphanumeric mode", r)
		}
	}
	c, err := Parse(tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.KeyID != k.ID || !c.IssuedAt.Equal(t0) {
		t.Fatalf("claims = %+v", c)
	}
	if tok2 := mustIssue(t, k, t0); tok2 == tok {
		t.Fatal("two tokens at the same second are identical: handle is not random")
	}
}

func TestVerifyTable(t *testing.T) {
	k := mustKey(t, "dev")
	other := mustKey(t, "dev")
	revoked := mustKey(t, "pass")
	rp := revoked.Public()
	rp.Revoked = true
	keys := NewKeySet(k.Public(), rp)
	v := Verifier{Keys: keys, Skew: 2 * time.Second}

	good := mustIssue(t, k, t0)
	body := good[len(Prefix):]
	flipped := []byte(good)
	if flipped[len(flipped)-5] == 'A' {
		flipped[len(flipped)-5] = 'B'
	} else {
		flipped[len(flipped)-5] = 'A'
	}
	cases := []struct {
		name    string
		text    string
		at      time.Time
		want    error
		verdict Verdict
	}{
		{"valid at issue", good, t0, nil, Verified},
		{"valid at expiry", good, t0.Add(Validity), nil, Verified},
		{"valid at expiry+skew", good, t0.Add(Validity + 2*time.Second), nil, Verified},
		{"expired just past skew", good, t0.Add(Validity + 2*time.Second + time.Millisecond), ErrExpired, Expired},
		{"valid at issue-skew", good, t0.Add(-2 * time.Second), nil, Verified},
		{"not yet valid beyond skew", good, t0.Add(-2*time.Second - time.Millisecond), ErrNotYetValid, Expired},
		{"url", "https://example.com/?q=1", t0, ErrNotToken, Invalid},
		{"random text", "hello world", t0, ErrNotToken, Invalid},
		{"binary", "\x00\xff\xfe\x01", t0, ErrNotToken, Invalid},
		{"empty", "", t0, ErrNotToken, Invalid},
		{"wrong version", "KP2:" + body, t0, ErrVersion, Invalid},
		{"no separator", "KP1" + body, t0, ErrNotToken, Invalid},
		{"bad base32", Prefix + strings.Repeat("1", len(body)), t0, ErrEncoding, Invalid},
		{"truncated", good[:len(good)-8], t0, ErrMalformed, Invalid},
		{"oversize", good + strings.Repeat("A", 200), t0, ErrOversize, Invalid},
		{"non-utf8 body", Prefix + "\xc3\x28" + body[2:], t0, ErrNotUTF8, Invalid},
		{"unknown key", mustIssue(t, other, t0), t0, ErrUnknownKey, Invalid},
		{"revoked key", mustIssue(t, revoked, t0), t0, ErrRevokedKey, Invalid},
		{"bad signature", string(flipped), t0, ErrSignature, Invalid},
	}
	seen := map[string]bool{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := v.Verify(c.text, c.at)
			if !errors.Is(err, c.want) || (c.want == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if got := VerdictOf(err); got != c.verdict {
				t.Fatalf("verdict = %s, want %s", got, c.verdict)
			}
			if err != nil {
				if strings.Contains(err.Error(), body[10:30]) {
					t.Fatalf("error message leaks token content: %v", err)
				}
				seen[Reason(err)] = true
			}
		})
	}
	for _, r := range reasons {
		if !seen[r.name] {
			t.Errorf("no case produced reason %q", r.name)
		}
	}
}

func TestKeySetJSONRoundTrip(t *testing.T) {
	k := mustKey(t, "kakao")
	s := NewKeySet(k.Public())
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back KeySet
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	tok := mustIssue(t, k, t0)
	if _, err := (Verifier{Keys: &back}).Verify(tok, t0); err != nil {
		t.Fatalf("verify with decoded key set: %v", err)
	}
	if err := json.Unmarshal([]byte(`{"keys":[{"kid":"01","issuer":"x","public":"AAAA"}]}`), &back); err == nil {
		t.Fatal("short public key accepted")
	}
}

func TestScanID(t *testing.T) {
	k := mustKey(t, "dev")
	tok := mustIssue(t, k, t0)
	a, b := ScanID("dev-1", tok), ScanID("dev-1", tok)
	if a != b || len(a) != 32 {
		t.Fatalf("scan id not stable: %s %s", a, b)
	}
	if ScanID("dev-2", tok) == a {
		t.Fatal("same id at another device")
	}
	if Fingerprint(tok) == a || Fingerprint(tok) != Fingerprint(tok) {
		t.Fatal("fingerprint not distinct or not stable")
	}
}

func FuzzVerify(f *testing.F) {
	k, err := GenerateKey("dev")
	if err != nil {
		f.Fatal(err)
	}
	tok, _ := Signer{Key: k}.Issue(t0)
	other, err := GenerateKey("dev")
	if err != nil {
		f.Fatal(err)
	}
	unknown, _ := Signer{Key: other}.Issue(t0)
	flipped := []byte(tok)
	flipped[len(flipped)-3] ^= 1
	// One seed for every rejection reason, so that plain "go test" (and CI)
	// runs the fuzz target over each of them.
	for _, s := range []string{
		tok, "", "KP1:", "KP2:AAAA", "KP", "KP:", "https://x", "hello", "\x00\xff",
		tok[:50], tok + "A", tok + strings.Repeat("A", 300), // truncated, padded, oversize
		"KP1" + tok[4:], "KP1:" + strings.Repeat("1", 147), // no separator, bad base32
		tok[:20] + "\xc3\x28" + tok[22:], // non-UTF-8
		unknown, string(flipped),
		"KP1:" + b32.EncodeToString(append([]byte{2}, make([]byte, bodySize-1)...)), // body version 2
	} {
		f.Add(s)
	}
	v := Verifier{Keys: NewKeySet(k.Public()), Skew: time.Second}
	f.Fuzz(func(t *testing.T, s string) {
		if _, err := Parse(s); err != nil && Reason(err) == "error" {
			t.Fatalf("unclassified parse error %v", err)
		}
		c, err := v.Verify(s, t0)
		if err == nil && c.KeyID != k.ID {
			t.Fatalf("verified with wrong key id %s", c.KeyID)
		}
		if err != nil && Reason(err) == "error" {
			t.Fatalf("unclassified error %v", err)
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	k := mustKey(b, "dev")
	tok := mustIssue(b, k, t0)
	v := Verifier{Keys: NewKeySet(k.Public()), Skew: time.Second}
	b.ReportAllocs()
	cpu := processCPU()
	for b.Loop() {
		if _, err := v.Verify(tok, t0); err != nil {
			b.Fatal(err)
		}
	}
	if cpu > 0 {
		b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
	}
}
