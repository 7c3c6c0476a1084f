package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kipass/kipass/central"
)

func TestServeFlags(t *testing.T) {
	var errb bytes.Buffer
	if rc := run([]string{"serve"}, io.Discard, &errb); rc != 2 || !strings.Contains(errb.String(), "exactly one of --data and --postgres") {
		t.Fatalf("no store: %d %s", rc, errb.String())
	}
	errb.Reset()
	if rc := run([]string{"serve", "--data", "x", "--postgres", "host=/nowhere"}, io.Discard, &errb); rc != 2 {
		t.Fatalf("two stores: %d %s", rc, errb.String())
	}
	if rc := run(nil, io.Discard, &errb); rc != 2 {
		t.Fatalf("no command: %d", rc)
	}
}

func TestAccountsFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	os.WriteFile(good, []byte(`{"admins":{"ops":"0123456789abcdef"},"authorities":{"kdca":"fedcba9876543210"}}`), 0o600)
	a, err := loadAccounts(good)
	if err != nil || a.Admins["ops"] != "0123456789abcdef" || a.Authorities["kdca"] != "fedcba9876543210" {
		t.Fatalf("accounts = %+v %v", a, err)
	}
	short := filepath.Join(dir, "short.json")
	os.WriteFile(short, []byte(`{"authorities":{"kdca":"1234"}}`), 0o600)
	if _, err := loadAccounts(short); err == nil || !strings.Contains(err.Error(), "shorter than 16") {
		t.Fatalf("short secret: %v", err)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"admins":[1]}`), 0o600)
	if _, err := loadAccounts(bad); err == nil {
		t.Fatal("bad JSON accepted")
	}
}

func TestAccountsFileReadableByOthersRefused(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "accounts.json")
	os.WriteFile(p, []byte(`{"admins":{"ops":"0123456789abcdef"}}`), 0o644)
	os.Chmod(p, 0o644) // whatever the umask
	_, err := loadAccounts(p)
	if err == nil || !strings.Contains(err.Error(), "mode 0644") || !strings.Contains(err.Error(), "chmod 600 "+p) {
		t.Fatalf("world-readable accounts file: %v", err)
	}
	// serve refuses to start with it, before it opens the store.
	var errb bytes.Buffer
	if rc := run([]string{"serve", "--data", filepath.Join(dir, "data"), "--accounts", p, "--addr", "127.0.0.1:0"}, io.Discard, &errb); rc != 1 || !strings.Contains(errb.String(), "chmod 600") {
		t.Fatalf("serve with a world-readable accounts file: %d %s", rc, errb.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
		t.Fatal("serve created its data directory before refusing the accounts file")
	}
}

func TestLockedDataFileNamesTheOtherCentral(t *testing.T) {
	dir := t.TempDir()
	held, err := central.OpenBolt(filepath.Join(dir, "central.db")) // the other kipass-central
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	var errb bytes.Buffer
	rc := run([]string{"serve", "--data", dir, "--addr", "127.0.0.1:0", "--log-level", "error"}, io.Discard, &errb)
	if rc != 1 || !strings.Contains(errb.String(), "another kipass-central") || !strings.Contains(errb.String(), filepath.Join(dir, "central.db")) {
		t.Fatalf("locked data file: exit %d, %q", rc, errb.String())
	}
	if strings.TrimSpace(errb.String()) == "kipass-central serve: timeout" {
		t.Fatal("says only timeout")
	}
}
