package agent

import (
	"bytes"
	"context"
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kipass/kipass/central"
	"github.com/kipass/kipass/logging"
	"github.com/kipass/kipass/token"
	"github.com/kipass/kipass/trust"
)

// TestOpenFetchesKeysAndLearnsClock opens an agent from a config whose key
// cache does not exist yet, against a real central on loopback: the key set
// is fetched and cached, the clock offset is learned and persisted.
func TestOpenFetchesKeysAndLearnsClock(t *testing.T) {
	k, err := token.GenerateKey("naver")
	if err != nil {
		t.Fatal(err)
	}
	c, err := central.Open(filepath.Join(t.TempDir(), "central.db"), central.Options{Keys: token.NewKeySet(k.Public())})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv := httptest.NewServer(c.Handler())
	defer srv.Close()

	dir := t.TempDir()
	frames := filepath.Join(dir, "frames")
	os.Mkdir(frames, 0o755)
	cfg := Config{Facility: "F1", Device: "D1", Source: "folder:" + frames, DataDir: filepath.Join(dir, "data"),
		CentralURL: srv.URL, KeysFile: filepath.Join(dir, "keys.json"), Audio: AudioConfig{Device: "none"}}
	cfg.SetDefaults()
	var logs bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	scans := make(chan Scan, 1)
	ended := make(chan struct{})
	a, err := Open(ctx, cfg, logging.New(&lockedWriter{w: &logs}, "debug"), Hooks{
		OnScan: func(s Scan) { scans <- s }, OnSourceEnd: func() { close(ended) }, FolderOnce: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if st := a.Trust(); st.Keys.Keys != 1 || st.Keys.LastFetch.IsZero() {
		t.Fatalf("keys after open: %+v", st.Keys)
	}
	cached, err := token.LoadKeySet(cfg.KeysFile)
	if err != nil || len(cached.Keys()) != 1 {
		t.Fatalf("key cache: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for a.Trust().Clock.Basis != trust.BasisCentral {
		if time.Now().After(deadline) {
			t.Fatalf("clock not learned: %+v", a.Trust().Clock)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "clock.json")); err != nil {
		t.Fatalf("clock offset not persisted: %v", err)
	}
	// The (empty) frame source has ended; a scan-engine text comes in.
	<-ended
	tok, _ := token.Signer{Key: k}.Issue(time.Now())
	a.HandleText(ctx, tok, time.Now())
	got := <-scans
	if got.Verdict != token.Verified || !got.Recorded || got.Corrected.IsZero() {
		t.Fatalf("scan = %+v", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestPinnedCAServesEveryCentralCall runs central over TLS with a
// self-signed certificate given as central_ca_file: the key fetch at Open
// and the uplink's batches both trust it (one client for all of central).
func TestPinnedCAServesEveryCentralCall(t *testing.T) {
	k, err := token.GenerateKey("dev")
	if err != nil {
		t.Fatal(err)
	}
	c, err := central.Open(filepath.Join(t.TempDir(), "central.db"), central.Options{Keys: token.NewKeySet(k.Public())})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv := httptest.NewTLSServer(c.Handler())
	defer srv.Close()
	dir := t.TempDir()
	ca := filepath.Join(dir, "central-ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	frames := filepath.Join(dir, "frames")
	os.Mkdir(frames, 0o755)
	cfg := Config{Facility: "F1", Device: "D1", Source: "folder:" + frames, DataDir: filepath.Join(dir, "data"),
		CentralURL: srv.URL, CentralCAFile: ca, KeysFile: filepath.Join(dir, "keys.json"), Audio: AudioConfig{Device: "none"}}
	cfg.SetDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := Open(ctx, cfg, logging.New(&bytes.Buffer{}, "error"), Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if st := a.Trust(); st.Keys.Keys != 1 {
		t.Fatalf("key set not fetched over the pinned CA: %+v", st.Keys)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	tok, _ := token.Signer{Key: k}.Issue(time.Now())
	a.HandleText(ctx, tok, time.Now())
	deadline := time.Now().Add(20 * time.Second)
	for {
		if n, _ := c.ScanCount(); n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the scan did not reach central over the pinned CA")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
