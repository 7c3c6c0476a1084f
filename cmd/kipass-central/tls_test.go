package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kipass/kipass/agent"
	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/central/client"
	"github.com/kipass/kipass/queue"
	"github.com/kipass/kipass/token"
	"github.com/kipass/kipass/uplink"
)

// writeCA makes an operator CA and a certificate it signs for 127.0.0.1,
// and writes ca.pem, cert.pem and key.pem in dir.
func writeCA(t *testing.T, dir string) (ca, cert, key string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "KI-Pass test operator CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "central"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(leafKey)
	ca, cert, key = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for path, b := range map[string]*pem.Block{ca: {Type: "CERTIFICATE", Bytes: caDER},
		cert: {Type: "CERTIFICATE", Bytes: leafDER}, key: {Type: "EC PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(path, pem.EncodeToMemory(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return ca, cert, key
}

// TestServeTLSWithAgentCAFile: kipass-central serve --tls-cert --tls-key
// on loopback; an agent config with central_ca_file pinning the operator
// CA sends its queued scans over HTTPS; without the pin the TLS check fails.
func TestServeTLSWithAgentCAFile(t *testing.T) {
	dir := t.TempDir()
	ca, cert, key := writeCA(t, dir)
	k, _ := token.GenerateKey("dev")
	keys := filepath.Join(dir, "keys.json")
	b, _ := json.Marshal(token.NewKeySet(k.Public()))
	os.WriteFile(keys, b, 0o600)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, options{data: filepath.Join(dir, "central"), keys: keys, dev: true, tlsCert: cert, tlsKey: key,
			timeTolerance: time.Minute, ln: ln}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	url := "https://" + ln.Addr().String()

	cfg, err := agent.ParseConfig(strings.NewReader(`{"facility":"F1","device":"D1","source":"0","keys_file":"keys.json","central_url":"` + url +
		`","central_ca_file":` + jsonString(ca) + `,"data_dir":` + jsonString(dir) + `}`))
	if err != nil {
		t.Fatal(err)
	}
	q, err := queue.Open(filepath.Join(dir, "queue.db"), queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	for i := 0; i < 3; i++ {
		tok, _ := token.Signer{Key: k}.Issue(time.Now())
		now := time.Now()
		q.Enqueue(queue.Record{Scan: api.Scan{ID: token.ScanID("D1", tok), Facility: "F1", Device: "D1", DeviceTime: now, CorrectedTime: now, Token: tok, Verdict: string(token.Verified)}})
	}
	sys, err := client.New(client.Options{URL: cfg.CentralURL, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := uplink.New(q, uplink.Options{Central: sys}).SendOnce(ctx); !errors.Is(err, client.ErrRetryable) {
		t.Fatalf("without the pinned CA: %v, want a TLS failure", err)
	}
	pinned, err := client.New(client.Options{URL: cfg.CentralURL, CAFile: cfg.CentralCAFile, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := uplink.New(q, uplink.Options{Central: pinned}).SendOnce(ctx); err != nil || n != 3 {
		t.Fatalf("with central_ca_file: n=%d err=%v", n, err)
	}
	if st, _ := q.Stats(); st.Depth != 0 {
		t.Fatalf("depth %d after sending", st.Depth)
	}
}

// jsonString quotes s as a JSON string.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestServeTLSFlagsPaired(t *testing.T) {
	var errb strings.Builder
	if rc := run([]string{"serve", "--data", t.TempDir(), "--tls-cert", "x.pem"}, io.Discard, &errb); rc != 2 || !strings.Contains(errb.String(), "--tls-key") {
		t.Fatalf("cert without key: %d %s", rc, errb.String())
	}
}
