// Package token defines the one-time KI-Pass QR token (format version 1):
// issuing it with an Ed25519 issuer key, parsing it, and verifying it offline
// against a key set with a clock-skew allowance.
//
// A token is "KP1:" followed by the unpadded RFC 4648 base32 encoding of an
// 89-byte body, 147 characters in all, every one in QR alphanumeric mode:
//
//	offset size field
//	0      1    version (1)
//	1      4    key id, big-endian
//	5      4    issued-at, Unix seconds, big-endian
//	9      16   handle: random bytes only the issuer can map to a person
//	25     64   Ed25519 signature over "KP1" || body[0:25]
//
// The token carries no personal data. See docs/protocol.md.
package token

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

const (
	// Prefix starts every version-1 token.
	Prefix = "KP1:"
	// Version is the format version this package issues and verifies.
	Version = 1
	// Validity is how long a token is valid after it is issued.
	Validity = 15 * time.Second
	// HandleSize is the size of the random handle in bytes.
	HandleSize = 16

	signedSize = 1 + 4 + 4 + HandleSize
	bodySize   = signedSize + ed25519.SignatureSize
	// TextSize is the length of a version-1 token's text.
	TextSize = len(Prefix) + (bodySize*8+4)/5
	// maxText bounds what the parser looks at: longer input is rejected
	// before any decoding work.
	maxText = 256
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// domain separates token signatures from any other use of an issuer key.
var domain = []byte("KP1")

// Claims is what a verified token says.
type Claims struct {
	// KeyID names the issuer key that signed the token.
	KeyID KeyID
	// IssuedAt is when the issuer made the token (second precision).
	IssuedAt time.Time
	// Handle is the opaque random handle; only the issuer can resolve it.
	Handle [HandleSize]byte
}

// Expires is the end of the token's validity.
func (c Claims) Expires() time.Time { return c.IssuedAt.Add(Validity) }

// Signer issues tokens with one issuer key.
type Signer struct {
	// Key is the issuer's private key and its id.
	Key PrivateKey
	// Rand is the source of handles; crypto/rand.Reader when nil.
	Rand io.Reader
}

// Issue makes a token issued at the given time.
func (s Signer) Issue(at time.Time) (string, error) {
	var body [bodySize]byte
	body[0] = Version
	binary.BigEndian.PutUint32(body[1:5], uint32(s.Key.ID))
	binary.BigEndian.PutUint32(body[5:9], uint32(at.Unix()))
	r := s.Rand
	if r == nil {
		r = randReader
	}
	if _, err := io.ReadFull(r, body[9:signedSize]); err != nil {
		return "", fmt.Errorf("issue token: read handle: %w", err)
	}
	if len(s.Key.Private) != ed25519.PrivateKeySize {
		return "", fmt.Errorf("issue token: private key has %d bytes", len(s.Key.Private))
	}
	sig := ed25519.Sign(s.Key.Private, signedMessage(body[:signedSize]))
	copy(body[signedSize:], sig)
	return Prefix + b32.EncodeToString(body[:]), nil
}

func signedMessage(signed []byte) []byte {
	m := make([]byte, 0, len(domain)+len(signed))
	return append(append(m, domain...), signed...)
}

// parsed is a token whose structure is valid but whose signature and time
// have not been checked.
type parsed struct {
	claims Claims
	signed []byte
	sig    []byte
}

// Parse checks a token's structure and returns its claims without checking
// the signature or the time. It never panics, whatever the input.
func Parse(text string) (Claims, error) {
	p, err := parse(text)
	return p.claims, err
}

func parse(text string) (parsed, error) {
	if len(text) > maxText {
		return parsed{}, fmt.Errorf("parse token: %d characters: %w", len(text), ErrOversize)
	}
	if !strings.HasPrefix(text, "KP") {
		return parsed{}, fmt.Errorf("parse token: %w", ErrNotToken)
	}
	colon := strings.IndexByte(text, ':')
	if colon < 0 {
		return parsed{}, fmt.Errorf("parse token: no version separator: %w", ErrNotToken)
	}
	if text[:colon+1] != Prefix {
		return parsed{}, fmt.Errorf("parse token: version %q: %w", sanitize(text[2:colon]), ErrVersion)
	}
	if !utf8.ValidString(text[len(Prefix):]) {
		return parsed{}, fmt.Errorf("parse token: %w", ErrNotUTF8)
	}
	body, err := b32.DecodeString(text[len(Prefix):])
	if err != nil {
		return parsed{}, fmt.Errorf("parse token: %w", ErrEncoding)
	}
	if len(body) != bodySize {
		return parsed{}, fmt.Errorf("parse token: body is %d bytes, want %d: %w", len(body), bodySize, ErrMalformed)
	}
	if body[0] != Version {
		return parsed{}, fmt.Errorf("parse token: body version %d: %w", body[0], ErrVersion)
	}
	var c Claims
	c.KeyID = KeyID(binary.BigEndian.Uint32(body[1:5]))
	c.IssuedAt = time.Unix(int64(binary.BigEndian.Uint32(body[5:9])), 0).UTC()
	copy(c.Handle[:], body[9:signedSize])
	return parsed{claims: c, signed: body[:signedSize], sig: body[signedSize:]}, nil
}

// sanitize keeps at most 8 printable ASCII characters of a version field for
// an error message; it never echoes token content.
func sanitize(s string) string {
	if len(s) > 8 {
		s = s[:8]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}

// Verifier checks tokens offline against a key set.
type Verifier struct {
	// Keys is the issuer key set in force.
	Keys *KeySet
	// Skew is the clock-skew allowance applied on both sides of the
	// validity window.
	Skew time.Duration
}

// Verify checks a token's structure, key, signature and validity window at
// the given (corrected) time. The error wraps one of the package sentinels.
func (v Verifier) Verify(text string, now time.Time) (Claims, error) {
	p, err := parse(text)
	if err != nil {
		return Claims{}, err
	}
	k, ok := v.Keys.Lookup(p.claims.KeyID)
	if !ok {
		return Claims{}, fmt.Errorf("verify token: key %s: %w", p.claims.KeyID, ErrUnknownKey)
	}
	if k.Revoked {
		return Claims{}, fmt.Errorf("verify token: key %s: %w", k.ID, ErrRevokedKey)
	}
	if !ed25519.Verify(k.Public, signedMessage(p.signed), p.sig) {
		return Claims{}, fmt.Errorf("verify token: key %s: %w", k.ID, ErrSignature)
	}
	c := p.claims
	if now.Before(c.IssuedAt.Add(-v.Skew)) {
		return c, fmt.Errorf("verify token: issued %s ahead: %w", c.IssuedAt.Sub(now).Round(time.Second), ErrNotYetValid)
	}
	if now.After(c.Expires().Add(v.Skew)) {
		return c, fmt.Errorf("verify token: expired %s ago: %w", now.Sub(c.Expires()).Round(time.Second), ErrExpired)
	}
	return c, nil
}

// ScanID derives the idempotency key of a scan: the same token scanned at the
// same device always gives the same id, so both the device queue and central
// record it once; the same token at another device gives another id. It is a
// one-way hash and reveals nothing of the token.
func ScanID(device, text string) string {
	h := sha256.New()
	h.Write([]byte("kipass-scan-v1\x00"))
	h.Write([]byte(device))
	h.Write([]byte{0})
	h.Write([]byte(text))
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Fingerprint is a one-way hash of a token's text, the same at every device.
// Central uses it to spot one token used at two facilities (a copied QR)
// without indexing the token itself.
func Fingerprint(text string) string {
	sum := sha256.Sum256([]byte("kipass-token-v1\x00" + text))
	return hex.EncodeToString(sum[:16])
}
