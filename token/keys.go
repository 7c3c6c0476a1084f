package token

import (
	"cmp"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"sync"
)

var randReader io.Reader = rand.Reader

// KeyID names an issuer key; it is printed as 8 hexadecimal digits.
type KeyID uint32

// String returns the key id as 8 upper-case hexadecimal digits.
func (k KeyID) String() string { return fmt.Sprintf("%08X", uint32(k)) }

// MarshalText encodes the key id as 8 hexadecimal digits.
func (k KeyID) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText decodes a key id of up to 8 hexadecimal digits.
func (k *KeyID) UnmarshalText(b []byte) error {
	v, err := strconv.ParseUint(string(b), 16, 32)
	if err != nil {
		return fmt.Errorf("key id %q: %w", b, err)
	}
	*k = KeyID(v)
	return nil
}

// PublicKey is one entry of an issuer key set.
type PublicKey struct {
	// ID is the key id that tokens carry.
	ID KeyID `json:"kid"`
	// Issuer names the QR issuer (for example "naver", "pass", "kakao").
	Issuer string `json:"issuer"`
	// Public is the Ed25519 public key.
	Public ed25519.PublicKey `json:"public"`
	// Revoked keys fail verification even with a good signature.
	Revoked bool `json:"revoked,omitempty"`
}

// PrivateKey is an issuer's signing key. Only issuers hold these.
type PrivateKey struct {
	// ID is the key id written into tokens.
	ID KeyID `json:"kid"`
	// Issuer names the QR issuer.
	Issuer string `json:"issuer"`
	// Private is the Ed25519 private key.
	Private ed25519.PrivateKey `json:"private"`
}

// Public returns the key set entry for this private key.
func (p PrivateKey) Public() PublicKey {
	return PublicKey{ID: p.ID, Issuer: p.Issuer, Public: p.Private.Public().(ed25519.PublicKey)}
}

// GenerateKey makes a new issuer key with a random key id.
func GenerateKey(issuer string) (PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(randReader)
	if err != nil {
		return PrivateKey{}, fmt.Errorf("generate key: %w", err)
	}
	var id [4]byte
	if _, err := io.ReadFull(randReader, id[:]); err != nil {
		return PrivateKey{}, fmt.Errorf("generate key id: %w", err)
	}
	return PrivateKey{ID: KeyID(binary.BigEndian.Uint32(id[:])), Issuer: issuer, Private: priv}, nil
}

// KeySet is the set of issuer public keys in force. Several keys may be valid
// at once, for rotation. It is safe for concurrent use.
type KeySet struct {
	mu   sync.RWMutex
	keys map[KeyID]PublicKey
}

// keySetJSON is the on-disk and on-wire form of a key set.
type keySetJSON struct {
	Keys []PublicKey `json:"keys"`
}

// NewKeySet returns a key set holding the given keys.
func NewKeySet(keys ...PublicKey) *KeySet {
	s := &KeySet{}
	s.Replace(keys)
	return s
}

// Lookup returns the key with the given id.
func (s *KeySet) Lookup(id KeyID) (PublicKey, bool) {
	if s == nil {
		return PublicKey{}, false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	k, ok := s.keys[id]
	return k, ok
}

// Keys returns the keys in the set, in key id order.
func (s *KeySet) Keys() []PublicKey {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]PublicKey, 0, len(s.keys))
	for _, k := range s.keys {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b PublicKey) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Replace swaps in a new list of keys.
func (s *KeySet) Replace(keys []PublicKey) {
	m := make(map[KeyID]PublicKey, len(keys))
	for _, k := range keys {
		m[k.ID] = k
	}
	s.mu.Lock()
	s.keys = m
	s.mu.Unlock()
}

// MarshalJSON encodes the set as {"keys":[...]}.
func (s *KeySet) MarshalJSON() ([]byte, error) {
	return json.Marshal(keySetJSON{Keys: s.Keys()})
}

// UnmarshalJSON decodes {"keys":[...]}, checking each key's size.
func (s *KeySet) UnmarshalJSON(b []byte) error {
	var j keySetJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	for _, k := range j.Keys {
		if len(k.Public) != ed25519.PublicKeySize {
			return fmt.Errorf("key %s: public key has %d bytes, want %d", k.ID, len(k.Public), ed25519.PublicKeySize)
		}
	}
	s.Replace(j.Keys)
	return nil
}

// LoadKeySet reads a key set from a JSON file.
func LoadKeySet(path string) (*KeySet, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load key set: %w", err)
	}
	s := &KeySet{}
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("load key set %s: %w", path, err)
	}
	return s, nil
}

// LoadPrivateKey reads an issuer private key from a JSON file.
func LoadPrivateKey(path string) (PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return PrivateKey{}, fmt.Errorf("load private key: %w", err)
	}
	var k PrivateKey
	if err := json.Unmarshal(b, &k); err != nil {
		return PrivateKey{}, fmt.Errorf("load private key %s: %w", path, err)
	}
	if len(k.Private) != ed25519.PrivateKeySize {
		return PrivateKey{}, fmt.Errorf("load private key %s: %w", path, errors.New("wrong key size"))
	}
	return k, nil
}
