package main

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestServeFlags(t *testing.T) {
	var errb bytes.Buffer
	if rc := run([]string{"serve"}, &errb); rc != 2 || !strings.Contains(errb.String(), "exactly one of --data and --postgres") {
		t.Fatalf("no store: %d %s", rc, errb.String())
	}
	errb.Reset()
	if rc := run([]string{"serve", "--data", "x", "--postgres", "host=/nowhere"}, &errb); rc != 2 {
		t.Fatalf("two stores: %d %s", rc, errb.String())
	}
	if rc := run(nil, &errb); rc != 2 {
		t.Fatalf("no command: %d", rc)
	}
}

func TestAccountsFile(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	good := filepath.Join(dir, "good.json")
	os.WriteFile(good, []byte(`{"admins":{"ops":"0123456789abcdef"},"authorities":{"kdca":"fedcba9876543210"}}`), 0o600)
	a, err := loadAccounts(good, log)
	if err != nil || a.Admins["ops"] != "0123456789abcdef" || a.Authorities["kdca"] != "fedcba9876543210" {
		t.Fatalf("accounts = %+v %v", a, err)
	}
	short := filepath.Join(dir, "short.json")
	os.WriteFile(short, []byte(`{"authorities":{"kdca":"1234"}}`), 0o600)
	if _, err := loadAccounts(short, log); err == nil || !strings.Contains(err.Error(), "shorter than 16") {
		t.Fatalf("short secret: %v", err)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"admins":[1]}`), 0o600)
	if _, err := loadAccounts(bad, log); err == nil {
		t.Fatal("bad JSON accepted")
	}
}
