//go:build linux && !android && (amd64 || arm64)

package faults

import (
	"os"
	"path/filepath"
	"testing"
)

// The power-loss filesystem must really drop what was not fsync'd, or the
// power-loss scenario proves nothing.
func TestPowerFSDropsUnsyncedWrites(t *testing.T) {
	dir := t.TempDir()
	backing, mnt := filepath.Join(dir, "b"), filepath.Join(dir, "m")
	os.MkdirAll(backing, 0o700)
	os.MkdirAll(mnt, 0o700)
	p := newPowerFS()
	srv, err := mountPowerFS(backing, mnt, p)
	if err != nil {
		t.Skipf("cannot mount FUSE here: %v", err)
	}
	f, err := os.Create(filepath.Join(mnt, "a"))
	if err != nil {
		srv.Unmount()
		t.Fatal(err)
	}
	f.Write([]byte("synced."))
	if err := f.Sync(); err != nil {
		t.Error(err)
	}
	f.Write([]byte("lost"))
	buf, _ := os.ReadFile(filepath.Join(mnt, "a"))
	f.Close()
	if string(buf) != "synced.lost" {
		t.Errorf("read through the mount = %q", buf)
	}
	os.WriteFile(filepath.Join(mnt, "b"), []byte("never synced"), 0o600)
	p.Cut()
	if err := srv.Unmount(); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(filepath.Join(backing, "a"))
	b, _ := os.ReadFile(filepath.Join(backing, "b"))
	if string(a) != "synced." || len(b) != 0 {
		t.Fatalf("after the cut: a=%q b=%q", a, b)
	}
}
