package status

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/kipass/kipass/atomicfile"
	"github.com/kipass/kipass/clock"
)

// Settings are what a manager may change on the page, behind the PIN.
// Zero values mean "as configured".
type Settings struct {
	// Language is the page's default language, "ko" or "en".
	Language string `json:"language,omitempty"`
	// Volume is the voice's volume in (0, 1].
	Volume float64 `json:"volume,omitempty"`
	// QuietHours is "HH:MM-HH:MM": tones at low volume inside it.
	QuietHours string `json:"quiet_hours,omitempty"`
	// Tones plays short tones instead of the voice.
	Tones bool `json:"tones,omitempty"`
}

var quietHours = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$`)

// Check returns an error wrapping ErrSettings naming the first bad value.
func (s Settings) Check() error {
	if s.Language != "" && !contains(Languages, s.Language) {
		return fmt.Errorf("%w: language %q is not ko or en", ErrSettings, s.Language)
	}
	if s.Volume < 0 || s.Volume > 1 {
		return fmt.Errorf("%w: volume %v is not in (0, 1]", ErrSettings, s.Volume)
	}
	if s.QuietHours != "" && !quietHours.MatchString(s.QuietHours) {
		return fmt.Errorf("%w: quiet hours %q are not HH:MM-HH:MM", ErrSettings, s.QuietHours)
	}
	return nil
}

// SettingsStore keeps the manager's settings.
type SettingsStore interface {
	// Load returns the saved settings; zero Settings when none were saved.
	Load() (Settings, error)
	// Save replaces the saved settings durably.
	Save(Settings) error
}

// FileSettings keeps the settings in a JSON file (0600), replaced
// atomically on Save.
type FileSettings struct {
	// Path is the file, normally settings.json in the agent's data_dir.
	Path string
}

// Load reads the file; a missing file gives zero Settings.
func (f FileSettings) Load() (Settings, error) {
	b, err := os.ReadFile(f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return Settings{}, nil
	}
	if err != nil {
		return Settings{}, fmt.Errorf("load settings: %w", err)
	}
	var s Settings
	if err := json.Unmarshal(b, &s); err != nil {
		return Settings{}, fmt.Errorf("load settings %s: %w: %w", f.Path, ErrSettings, err)
	}
	if err := s.Check(); err != nil {
		return Settings{}, fmt.Errorf("load settings %s: %w", f.Path, err)
	}
	return s, nil
}

// Save writes the settings to a temporary file, syncs it and renames it
// over the old one.
func (f FileSettings) Save(s Settings) error {
	if err := s.Check(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("save settings: %w", err)
	}
	if err := atomicfile.Write(f.Path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("save settings: %w", err)
	}
	return nil
}

var pinPattern = regexp.MustCompile(`^[0-9]{6,12}$`)

// LoadPIN reads a manager PIN file: 6 to 12 digits, surrounding white
// space ignored. The file must be readable by its owner only (0600): a PIN
// others can read unlocks nothing. A bad file is an error wrapping
// ErrConfig that says what is wrong.
func LoadPIN(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("%w: manager PIN: %w", ErrConfig, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("%w: manager PIN file %s is readable by others (mode %04o): chmod 600 %s",
			ErrConfig, path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%w: manager PIN: %w", ErrConfig, err)
	}
	pin := strings.TrimSpace(string(b))
	if !pinPattern.MatchString(pin) {
		return "", fmt.Errorf("%w: manager PIN file %s must hold 6 to 12 digits", ErrConfig, path)
	}
	return pin, nil
}

// Guard limits for the manager PIN. Lockouts are kept per client (its
// address): one client's wrong PINs never lock out another manager.
const (
	// MaxPINFailures wrong PINs in a row from one client lock it out.
	MaxPINFailures = 5
	// PINLockout is the first lockout; each further wrong PIN after it
	// doubles the lockout, up to PINLockoutMax.
	PINLockout = 30 * time.Second
	// PINLockoutMax caps a client's lockout.
	PINLockoutMax = 15 * time.Minute
	// SessionIdle is how long an unlocked settings session lasts unused.
	SessionIdle = 10 * time.Minute
	maxSessions = 16
	// maxClients bounds the clients whose failures are remembered.
	maxClients = 1024
)

// attempts are one client's wrong PINs.
type attempts struct {
	failures    int
	lockedUntil time.Time
	last        time.Time
}

// guard checks the manager PIN and keeps the unlocked sessions.
type guard struct {
	pin      []byte
	clk      clock.Clock
	mu       sync.Mutex
	clients  map[string]*attempts // client address -> wrong PINs
	sessions map[string]time.Time // session id -> last use
}

func newGuard(pin string, clk clock.Clock) *guard {
	return &guard{pin: []byte(pin), clk: clk, clients: map[string]*attempts{}, sessions: map[string]time.Time{}}
}

// lockout is the lockout after n wrong PINs in a row (n ≥ MaxPINFailures).
func lockout(n int) time.Duration {
	d := PINLockout
	for i := MaxPINFailures; i < n && d < PINLockoutMax; i++ {
		d *= 2
	}
	return min(d, PINLockoutMax)
}

// login checks pin from client and returns a new session id.
func (g *guard) login(client, pin string) (string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.clk.Now()
	at := g.clients[client]
	if at != nil && now.Before(at.lockedUntil) {
		return "", ErrLocked
	}
	if len(g.pin) == 0 || subtle.ConstantTimeCompare([]byte(pin), g.pin) != 1 {
		if at == nil {
			g.forgetClients(now)
			at = &attempts{}
			g.clients[client] = at
		}
		at.failures++
		at.last = now
		if at.failures >= MaxPINFailures {
			at.lockedUntil = now.Add(lockout(at.failures))
			return "", ErrLocked
		}
		return "", ErrPIN
	}
	delete(g.clients, client)
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("new session: %w", err)
	}
	id := hex.EncodeToString(b[:])
	for k, t := range g.sessions {
		if now.Sub(t) > SessionIdle || len(g.sessions) >= maxSessions {
			delete(g.sessions, k)
		}
	}
	g.sessions[id] = now
	return id, nil
}

// forgetClients makes room for a new client: clients neither locked nor
// seen within PINLockoutMax go first, then the least recently seen.
func (g *guard) forgetClients(now time.Time) {
	if len(g.clients) < maxClients {
		return
	}
	var oldest string
	for k, a := range g.clients {
		if now.After(a.lockedUntil) && now.Sub(a.last) > PINLockoutMax {
			delete(g.clients, k)
			continue
		}
		if oldest == "" || a.last.Before(g.clients[oldest].last) {
			oldest = k
		}
	}
	if len(g.clients) >= maxClients {
		delete(g.clients, oldest)
	}
}

// valid reports whether id is an unlocked session, and refreshes it.
func (g *guard) valid(id string) bool {
	if id == "" {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.clk.Now()
	t, ok := g.sessions[id]
	if !ok || now.Sub(t) > SessionIdle {
		delete(g.sessions, id)
		return false
	}
	g.sessions[id] = now
	return true
}

func (g *guard) logout(id string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.sessions, id)
}
