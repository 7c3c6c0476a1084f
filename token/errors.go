package token

import "errors"

// Sentinel errors returned (wrapped) by Parse and Verify. Every one of them is
// permanent for the token in hand: showing the same QR again cannot help,
// except ErrNotYetValid, which may pass once the device clock is corrected.
var (
	// ErrNotToken means the text is not a KI-Pass token at all (a URL,
	// random text, another issuer's format).
	ErrNotToken = errors.New("not a KI-Pass token")
	// ErrVersion means the token names a format version this agent does not know.
	ErrVersion = errors.New("unsupported token version")
	// ErrOversize means the text is longer than any valid token.
	ErrOversize = errors.New("token too long")
	// ErrNotUTF8 means the text after the version prefix is not valid
	// UTF-8 (a QR code in byte mode carrying binary data).
	ErrNotUTF8 = errors.New("token is not UTF-8")
	// ErrEncoding means the body is not valid base32.
	ErrEncoding = errors.New("bad token encoding")
	// ErrMalformed means the body decodes to the wrong length (truncated or padded).
	ErrMalformed = errors.New("malformed token")
	// ErrUnknownKey means no key in the key set has the token's key id.
	ErrUnknownKey = errors.New("unknown issuer key")
	// ErrRevokedKey means the token was signed by a revoked key.
	ErrRevokedKey = errors.New("revoked issuer key")
	// ErrSignature means the signature does not verify.
	ErrSignature = errors.New("bad token signature")
	// ErrExpired means the token's 15-second validity (plus skew) has passed.
	ErrExpired = errors.New("token expired")
	// ErrNotYetValid means the token was issued in the future of the
	// corrected clock, beyond the skew allowance.
	ErrNotYetValid = errors.New("token not yet valid")
)
