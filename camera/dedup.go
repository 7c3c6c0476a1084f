package camera

import (
	"crypto/sha256"
	"sync"
	"time"
)

// Default duplicate-suppression windows: a camera sees a held phone in many
// frames; a scan engine may fire twice on one trigger pull.
const (
	CameraDedupWindow = 5 * time.Second
	EngineDedupWindow = 2500 * time.Millisecond
)

// Dedup suppresses repeats of the same code within a window. Each sighting
// restarts the window, so a code held in front of a camera for a minute is
// delivered once. It keeps only SHA-256 digests, never the codes.
type Dedup struct {
	window time.Duration
	mu     sync.Mutex
	seen   map[[32]byte]time.Time
}

// NewDedup returns a Dedup with the given window; a window ≤ 0 lets every
// code through.
func NewDedup(window time.Duration) *Dedup {
	return &Dedup{window: window, seen: map[[32]byte]time.Time{}}
}

// Fresh reports whether text, seen at at, should be delivered: false when
// the same text was seen less than the window before or after at. Callers
// on several goroutines read their times before Fresh orders them, so a
// sighting slightly older than the last one is a repeat too; a clock set
// back by a window or more lets the code through.
func (d *Dedup) Fresh(text string, at time.Time) bool {
	if d.window <= 0 {
		return true
	}
	k := sha256.Sum256([]byte(text))
	d.mu.Lock()
	defer d.mu.Unlock()
	last, ok := d.seen[k]
	if !ok || at.After(last) || last.Sub(at) >= d.window {
		d.seen[k] = at
	}
	if len(d.seen) > 256 {
		for key, t := range d.seen {
			if at.Sub(t) >= d.window {
				delete(d.seen, key)
			}
		}
	}
	gap := at.Sub(last)
	return !ok || gap >= d.window || -gap >= d.window
}
