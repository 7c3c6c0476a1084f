package main

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kipass/kipass/decode"
	"github.com/kipass/kipass/token"
)

func runOK(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if err := run(args, &out, &errb); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, errb.String())
	}
	return out.String()
}

func decodePNG(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	g, ok := img.(*image.Gray)
	if !ok {
		t.Fatalf("%s is %T, want grey", path, img)
	}
	res, err := decode.New(decode.Options{}).Decode(g)
	if err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	return res.Text
}

func TestIssueChosenKeyTimeAndImages(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys.json")
	runOK(t, "keygen", "--issuer", "naver", "--out", filepath.Join(dir, "naver.json"), "--keyset", keys)
	runOK(t, "keygen", "--issuer", "pass", "--out", filepath.Join(dir, "pass-1.json"), "--keyset", keys)
	runOK(t, "keygen", "--issuer", "pass", "--out", filepath.Join(dir, "pass-2.json"), "--keyset", keys)
	set, err := token.LoadKeySet(keys)
	if err != nil || len(set.Keys()) != 3 {
		t.Fatalf("key set: %v %d", err, len(set.Keys()))
	}
	pass2, err := token.LoadPrivateKey(filepath.Join(dir, "pass-2.json"))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 22, 10, 30, 0, 0, time.FixedZone("KST", 9*3600))

	// --issuer picks the only naver key; --at sets the issue time.
	tok := strings.TrimSpace(runOK(t, "issue", "--keys", dir, "--issuer", "naver", "--at", at.Format(time.RFC3339),
		"--png", filepath.Join(dir, "qr.png")))
	c, err := token.Parse(tok)
	if err != nil || !c.IssuedAt.Equal(at) {
		t.Fatalf("claims %+v, %v", c, err)
	}
	if k, _ := set.Lookup(c.KeyID); k.Issuer != "naver" {
		t.Fatalf("signed by %+v", k)
	}
	if got := decodePNG(t, filepath.Join(dir, "qr.png")); got != tok {
		t.Fatal("the PNG does not decode to the token")
	}
	// Two pass keys: --kid chooses; a relative --at; the phone-screen image.
	tok = strings.TrimSpace(runOK(t, "issue", "--keys", dir, "--issuer", "pass", "--kid", pass2.ID.String(), "--at", "-30s",
		"--png", filepath.Join(dir, "screen.png"), "--screen"))
	if c, err = token.Parse(tok); err != nil || c.KeyID != pass2.ID || time.Since(c.IssuedAt) < 29*time.Second {
		t.Fatalf("claims %+v, %v", c, err)
	}
	if _, err := (token.Verifier{Keys: set}).Verify(tok, c.IssuedAt); err != nil {
		t.Fatal(err)
	}
	if got := decodePNG(t, filepath.Join(dir, "screen.png")); got != tok {
		t.Fatal("the phone-screen image does not decode to the token")
	}

	// Rotation: revoke the first pass key in the key set.
	pass1, _ := token.LoadPrivateKey(filepath.Join(dir, "pass-1.json"))
	runOK(t, "revoke", "--keyset", keys, "--kid", pass1.ID.String())
	set, _ = token.LoadKeySet(keys)
	if k, _ := set.Lookup(pass1.ID); !k.Revoked {
		t.Fatal("not revoked")
	}
	if k, _ := set.Lookup(pass2.ID); k.Revoked {
		t.Fatal("the other key was revoked too")
	}

	for _, bad := range [][]string{
		{"issue", "--keys", dir, "--issuer", "pass"},  // two match
		{"issue", "--keys", dir, "--issuer", "kakao"}, // none
		{"issue", "--keys", dir, "--kid", "zz"},       // bad kid
		{"issue", "--key", filepath.Join(dir, "naver.json"), "--at", "yesterday"},
		{"issue"},
		{"revoke", "--keyset", keys, "--kid", "00000001"},
	} {
		if err := run(bad, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

// TestQRSizeCommand prints the QR size (go test -v -run QRSize ./cmd/kipass-issuer).
func TestQRSizeCommand(t *testing.T) {
	out := runOK(t, "qr-size")
	t.Log("\n" + out)
	var v int
	i := strings.Index(out, "level M: QR version ")
	if i < 0 {
		t.Fatalf("no level M line:\n%s", out)
	}
	if _, err := fmt.Sscanf(out[i:], "level M: QR version %d,", &v); err != nil || v < 1 || v > 7 {
		t.Fatalf("level M needs version %d (%v), want ≤ 7", v, err)
	}
}
