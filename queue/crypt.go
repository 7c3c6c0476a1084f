package queue

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// keySize is the AES-256 key length.
const keySize = 32

// sealer encrypts tokens at rest with AES-256-GCM. The record id is the
// additional data, so a sealed token cannot be moved to another record.
type sealer struct {
	aead cipher.AEAD
}

func newSealer(key []byte) (*sealer, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKey, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKey, err)
	}
	return &sealer{aead: aead}, nil
}

// seal returns nonce || ciphertext+tag.
func (s *sealer) seal(id, token string) ([]byte, error) {
	out := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(token)+s.aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	return s.aead.Seal(out, out, []byte(token), []byte(id)), nil
}

// open reverses seal; it fails when the key is not the one that sealed.
func (s *sealer) open(id string, sealed []byte) (string, error) {
	ns := s.aead.NonceSize()
	if len(sealed) < ns+s.aead.Overhead() {
		return "", ErrCorrupt
	}
	pt, err := s.aead.Open(nil, sealed[:ns], sealed[ns:], []byte(id))
	if err != nil {
		return "", ErrCorrupt
	}
	return string(pt), nil
}

// loadKey reads the device key file. A missing file is an error that
// wraps both ErrKey and fs.ErrNotExist.
func loadKey(path string) ([]byte, error) {
	key, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKey, err)
	}
	if len(key) != keySize {
		return nil, fmt.Errorf("%w: %s holds %d bytes, want %d", ErrKey, path, len(key), keySize)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		// Best effort: a systemd credential is read-only and already private.
		_ = os.Chmod(path, 0o600)
	}
	return key, nil
}

// createKey makes a new device key file (0600, written to a temporary
// file, fsync'd and renamed). Open calls it only when no sealed record
// exists: a fresh key never replaces one that records need.
func createKey(path string) ([]byte, error) {
	key := make([]byte, keySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("%w: generate: %w", ErrKey, err)
	}
	if err := writeSynced(path, key); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKey, err)
	}
	return key, nil
}

// writeSynced writes b to path through a synced temporary file and a
// rename, and syncs the directory: a power cut leaves the old file or the
// new one. (Never for the record keys, which are only written in place.)
func writeSynced(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, werr := f.Write(b)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
