package trust

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/kipass/kipass/atomicfile"
	"github.com/kipass/kipass/clock"
	"github.com/kipass/kipass/token"
)

// KeysOptions configure Keys.
type KeysOptions struct {
	// Path is the on-disk cache of the key set (the agent's keys_file),
	// written atomically after every fetch that changes it.
	Path string
	// Client fetches the key set from central; nil means never fetch.
	Client *Client
	// Refresh is the time between fetches; 10 min when zero. After a failed
	// fetch the next one comes after Retry (30 s when zero), growing to Refresh.
	Refresh, Retry time.Duration
	// Timeout bounds one fetch; 10 s when zero.
	Timeout time.Duration
	// Clock drives the refresh timer; clock.Real when nil.
	Clock clock.Clock
	// Log receives warnings; slog.Default when nil.
	Log *slog.Logger
}

// KeysStatus is a snapshot for the status page.
type KeysStatus struct {
	// Keys and Revoked count the keys in force.
	Keys    int `json:"keys"`
	Revoked int `json:"revoked"`
	// LastFetch is the device time of the last successful fetch (zero: none).
	LastFetch time.Time `json:"last_fetch"`
	// Failures counts fetches failed in a row.
	Failures int `json:"failures"`
	// LastError is the last fetch error ("" after a success).
	LastError string `json:"last_error,omitempty"`
}

// Keys is the issuer key set in force: loaded from the cache file, fetched
// from central, and kept when a fetch fails. The *token.KeySet it holds is
// updated in place, so verifiers built on Set see every rotation.
type Keys struct {
	o   KeysOptions
	set *token.KeySet

	mu     sync.Mutex
	status KeysStatus
	kick   chan struct{}
}

// OpenKeys loads the cached key set. A missing cache starts empty (fetch it
// with Fetch or Run); an unreadable one is an error naming the file.
func OpenKeys(o KeysOptions) (*Keys, error) {
	if o.Refresh <= 0 {
		o.Refresh = 10 * time.Minute
	}
	if o.Retry <= 0 {
		o.Retry = 30 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	k := &Keys{o: o, set: token.NewKeySet(), kick: make(chan struct{}, 1)}
	if o.Path != "" {
		cached, err := token.LoadKeySet(o.Path)
		switch {
		case errors.Is(err, os.ErrNotExist):
			o.Log.Warn("no cached issuer key set yet; fetching it from central", "keys_file", o.Path)
		case err != nil:
			return nil, fmt.Errorf("open keys: %w", err)
		default:
			k.set.Replace(cached.Keys())
		}
	}
	k.count()
	return k, nil
}

// Set returns the key set in force (updated in place by fetches).
func (k *Keys) Set() *token.KeySet { return k.set }

// Status returns a snapshot of the key set's state.
func (k *Keys) Status() KeysStatus {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.status
}

func (k *Keys) count() {
	n, r := 0, 0
	for _, key := range k.set.Keys() {
		n++
		if key.Revoked {
			r++
		}
	}
	k.mu.Lock()
	k.status.Keys, k.status.Revoked = n, r
	k.mu.Unlock()
}

// Kick asks Run for a fetch soon: a token named a key id the set lacks.
func (k *Keys) Kick() {
	select {
	case k.kick <- struct{}{}:
	default:
	}
}

// Fetch gets the key set from central and puts it in force, writing the
// cache when it changed. On failure the set in force is kept, a warning is
// logged and the error (client.ErrRetryable or client.ErrPermanent) is returned.
func (k *Keys) Fetch(ctx context.Context) error {
	if k.o.Client == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, k.o.Timeout)
	defer cancel()
	keys, err := k.o.Client.Keys(ctx)
	if err != nil {
		k.mu.Lock()
		k.status.Failures++
		k.status.LastError = err.Error()
		failures := k.status.Failures
		k.mu.Unlock()
		k.o.Log.Warn("issuer key set not fetched; the cached set stays in force",
			"err", err, "keys", len(k.set.Keys()), "failures", failures)
		return fmt.Errorf("fetch keys: %w", err)
	}
	changed := !sameKeys(k.set.Keys(), keys)
	k.set.Replace(keys)
	if changed && k.o.Path != "" {
		b, err := json.MarshalIndent(k.set, "", "  ")
		if err == nil {
			err = atomicfile.Write(k.o.Path, append(b, '\n'), 0o644)
		}
		if err != nil {
			k.o.Log.Warn("issuer key set in force but not cached", "err", err)
		}
	}
	k.mu.Lock()
	k.status.Failures, k.status.LastError, k.status.LastFetch = 0, "", k.o.Clock.Now()
	k.mu.Unlock()
	k.count()
	if changed {
		k.o.Log.Info("issuer key set updated", "keys", len(keys))
	}
	return nil
}

func sameKeys(a, b []token.PublicKey) bool {
	if len(a) != len(b) {
		return false
	}
	m := make(map[token.KeyID]token.PublicKey, len(a))
	for _, k := range a {
		m[k.ID] = k
	}
	for _, k := range b {
		o, ok := m[k.ID]
		if !ok || o.Issuer != k.Issuer || o.Revoked != k.Revoked || !o.Public.Equal(k.Public) {
			return false
		}
	}
	return true
}

// Run fetches the key set at once and then every Refresh (sooner after a
// failure, or after a Kick but at most once per Retry) until ctx ends.
// Failures never end Run.
func (k *Keys) Run(ctx context.Context) error {
	if k.o.Client == nil {
		<-ctx.Done()
		return nil
	}
	wait := k.o.Retry
	for {
		attempt := k.o.Clock.Now()
		if err := k.Fetch(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if k.Status().Failures == 1 {
				wait = k.o.Retry
			} else {
				wait = min(wait*2, k.o.Refresh)
			}
		} else {
			wait = k.o.Refresh
		}
		timer := k.o.Clock.After(wait)
	sleep:
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-timer:
				break sleep
			case <-k.kick:
				if since := k.o.Clock.Now().Sub(attempt); since < k.o.Retry {
					timer = k.o.Clock.After(k.o.Retry - since)
					continue
				}
				break sleep
			}
		}
	}
}
