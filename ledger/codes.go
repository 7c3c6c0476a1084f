// Package ledger provides what the device knows of the paper ledger
// (수기명부) kept beside the scanner: the control codes staff scan to count a
// paper visit or to ask for the ledger instructions, and the ledger's
// sheets with the date each must be shredded (4 weeks after its last
// entry). Nothing about a person enters the device: a paper visit is a
// count, a sheet is a date.
//
// A control code reads
//
//	KPL1.<action>.<facility>.<device>.<mac>
//
// where action is P (one visitor signed the paper ledger) or N (the visitor
// has no phone: play the ledger instructions), facility and device are the
// device's ids with "%" and "." percent-escaped, and mac is the first 16
// bytes of HMAC-SHA256 under the device's ledger key over everything before
// the last dot, in unpadded base64url. Any text starting with "KPL1." is a
// control code and is never judged as a visitor token.
package ledger

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/kipass/kipass/atomicfile"
)

// Prefix starts every control code.
const Prefix = "KPL1."

// Action is what a control code asks for.
type Action string

// The actions.
const (
	// Paper counts one visitor who signed the paper ledger.
	Paper Action = "P"
	// NoPhone asks the device to play the paper-ledger instructions for a
	// visitor without a phone.
	NoPhone Action = "N"
)

// Actions lists every action, in the order the code sheet prints them.
var Actions = []Action{Paper, NoPhone}

// The errors of Codes.Check. Each names what is wrong with the code.
var (
	// ErrMalformed: the text starts like a control code but does not parse.
	ErrMalformed = errors.New("malformed control code")
	// ErrForeign: the code was made for another facility or device.
	ErrForeign = errors.New("control code of another facility or device")
	// ErrForged: the code names this device but its mac does not check.
	ErrForged = errors.New("control code with a wrong signature")
	// ErrKey: the ledger key file cannot be read or made.
	ErrKey = errors.New("ledger key")
)

// IsControl reports whether text is a control code (it has the prefix).
// Such text is never judged or stored as a visitor token.
func IsControl(text string) bool { return strings.HasPrefix(text, Prefix) }

// keySize is the ledger key's length.
const keySize = 32

// Codes makes and checks the control codes of one device.
type Codes struct {
	facility, device string
	key              []byte
}

// NewCodes returns the codes of a device under key (at least 16 bytes).
func NewCodes(key []byte, facility, device string) (*Codes, error) {
	if len(key) < 16 {
		return nil, fmt.Errorf("%w: %d bytes, want at least 16", ErrKey, len(key))
	}
	if facility == "" || device == "" {
		return nil, fmt.Errorf("control codes need a facility and a device id")
	}
	return &Codes{facility: facility, device: device, key: append([]byte(nil), key...)}, nil
}

// OpenCodes reads the device's ledger key from keyFile, or makes a new
// random one (0600) when the file does not exist, and returns its codes.
// A new key invalidates the codes printed under the old one.
func OpenCodes(keyFile, facility, device string) (*Codes, error) {
	key, err := os.ReadFile(keyFile)
	if errors.Is(err, fs.ErrNotExist) {
		key = make([]byte, keySize)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrKey, err)
		}
		if err := writeFile(keyFile, key, 0o600); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrKey, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKey, err)
	}
	return NewCodes(key, facility, device)
}

var idEscaper = strings.NewReplacer("%", "%25", ".", "%2E")
var idUnescaper = strings.NewReplacer("%25", "%", "%2E", ".", "%2e", ".")

func (c *Codes) mac(body string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(body))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// Make returns the control code for action a.
func (c *Codes) Make(a Action) string {
	body := Prefix + string(a) + "." + idEscaper.Replace(c.facility) + "." + idEscaper.Replace(c.device)
	return body + "." + c.mac(body)
}

// Check returns the action of a control code made for this device. It
// fails with ErrMalformed, ErrForeign or ErrForged, naming what is wrong.
func (c *Codes) Check(text string) (Action, error) {
	if !IsControl(text) {
		return "", fmt.Errorf("%w: no %q prefix", ErrMalformed, Prefix)
	}
	parts := strings.Split(text, ".")
	if len(parts) != 5 {
		return "", fmt.Errorf("%w: %d parts, want 5", ErrMalformed, len(parts))
	}
	a := Action(parts[1])
	if a != Paper && a != NoPhone {
		return "", fmt.Errorf("%w: unknown action %q", ErrMalformed, parts[1])
	}
	fac, dev := idUnescaper.Replace(parts[2]), idUnescaper.Replace(parts[3])
	if fac != c.facility || dev != c.device {
		return "", fmt.Errorf("%w: made for facility %q device %q", ErrForeign, fac, dev)
	}
	body := text[:len(text)-len(parts[4])-1]
	if !hmac.Equal([]byte(parts[4]), []byte(c.mac(body))) {
		return "", ErrForged
	}
	return a, nil
}

// writeFile writes data to path (its folder made first) so a crash leaves
// the old file or the new one, never half.
func writeFile(path string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return atomicfile.Write(path, data, perm)
}
