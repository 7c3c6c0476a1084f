package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/kipass/kipass/central"
	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/central/client"
	"github.com/kipass/kipass/queue"
	"github.com/kipass/kipass/token"
	bolt "go.etcd.io/bbolt"
)

// Issuer makes valid visitor tokens for the suite.
type Issuer struct {
	key  token.PrivateKey
	Keys *token.KeySet
}

// NewIssuer generates an issuer key.
func NewIssuer() (*Issuer, error) {
	k, err := token.GenerateKey("faults")
	if err != nil {
		return nil, err
	}
	return &Issuer{key: k, Keys: token.NewKeySet(k.Public())}, nil
}

// Token issues a token at t.
func (is *Issuer) Token(t time.Time) (string, error) { return token.Signer{Key: is.key}.Issue(t) }

// WriteKeys writes the public key set (JSON) to path.
func (is *Issuer) WriteKeys(path string) error {
	b, err := json.Marshal(is.Keys)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// Record makes a verified scan record at device for a fresh token.
func (is *Issuer) Record(facility, device string, t time.Time) (queue.Record, error) {
	tok, err := is.Token(t)
	if err != nil {
		return queue.Record{}, err
	}
	return queue.Record{Scan: api.Scan{ID: token.ScanID(device, tok), Facility: facility, Device: device,
		DeviceTime: t, CorrectedTime: t, Token: tok, Verdict: string(token.Verified)}}, nil
}

// Central is a real central server on a loopback listener, in process.
type Central struct {
	Srv  *central.Server
	URL  string
	Addr string
	path string
	hs   *http.Server
}

// StartCentral opens a central store in dir and serves it on 127.0.0.1,
// through wrap when it is not nil.
func StartCentral(dir string, keys *token.KeySet, wrap func(http.Handler) http.Handler) (*Central, error) {
	path := filepath.Join(dir, "central.db")
	cs, err := central.Open(path, central.Options{Keys: keys, Log: discard})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cs.Close()
		return nil, err
	}
	h := cs.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	return &Central{Srv: cs, URL: "http://" + ln.Addr().String(), Addr: ln.Addr().String(), path: path, hs: hs}, nil
}

// Close stops serving (waiting up to 40 s for requests in flight, so a slow
// answer finishes its write) and closes the store.
func (c *Central) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	c.hs.Shutdown(ctx)
	return c.Srv.Close()
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// Stored is what a central file holds, read after central has closed it.
type Stored struct {
	// IDs are the stored scan ids.
	IDs map[string]bool
	// Duplicates counts records whose token was already stored under
	// another record.
	Duplicates int
}

// ReadCentral reads a closed central.db: the stored scan ids and the
// number of tokens stored more than once. It reads the reference central's
// bbolt layout: bucket "days", one bucket per KST day, each with a "scans"
// bucket of id -> JSON with "token" (the flat "scans" bucket of the first
// central is read too).
func ReadCentral(path string) (Stored, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		return Stored{}, fmt.Errorf("read central: %w", err)
	}
	defer db.Close()
	st := Stored{IDs: map[string]bool{}}
	tokens := map[string]bool{}
	read := func(b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			var s struct {
				Token string `json:"token"`
			}
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("scan %s: %w", k, err)
			}
			if st.IDs[string(k)] || tokens[s.Token] {
				st.Duplicates++
			}
			st.IDs[string(k)] = true
			tokens[s.Token] = true
			return nil
		})
	}
	err = db.View(func(tx *bolt.Tx) error {
		found := false
		if b := tx.Bucket([]byte("scans")); b != nil {
			found = true
			if err := read(b); err != nil {
				return err
			}
		}
		if days := tx.Bucket([]byte("days")); days != nil {
			found = true
			err := days.ForEachBucket(func(k []byte) error {
				if sb := days.Bucket(k).Bucket([]byte("scans")); sb != nil {
					return read(sb)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		if !found {
			return fmt.Errorf("no scans in %s", path)
		}
		return nil
	})
	if err != nil {
		return Stored{}, fmt.Errorf("read central: %w", err)
	}
	return st, nil
}

// Ledger is the set of confirmed scan ids of a scenario. It is safe for
// concurrent use.
type Ledger struct {
	mu  sync.Mutex
	ids map[string]bool
}

// NewLedger returns an empty ledger.
func NewLedger() *Ledger { return &Ledger{ids: map[string]bool{}} }

// Confirm records a confirmed id.
func (l *Ledger) Confirm(id string) {
	l.mu.Lock()
	l.ids[id] = true
	l.mu.Unlock()
}

// Len is the number of confirmed ids.
func (l *Ledger) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.ids)
}

// Check fills r's Confirmed, Delivered, Lost and Duplicates from what
// central stored; dead are ids in the device's dead letters.
func (l *Ledger) Check(r *Result, st Stored, dead map[string]bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r.Confirmed = len(l.ids)
	r.Duplicates = st.Duplicates
	for id := range l.ids {
		switch {
		case st.IDs[id]:
			r.Delivered++
		case dead[id]:
			r.Dead++
		default:
			r.Lost++
		}
	}
	extra := 0
	for id := range st.IDs {
		if !l.ids[id] {
			extra++
		}
	}
	if extra > 0 {
		r.detail("unconfirmed_delivered=%d", extra)
	}
}

// waitDrained polls q until it is empty or the deadline passes.
func waitDrained(ctx context.Context, q *queue.Queue, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		st, err := q.Stats()
		if err != nil {
			return err
		}
		if st.Depth == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("queue not drained after %s: %d records left", within, st.Depth)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// centralClient returns the agent's client for central at url, with the
// given request timeout and transport (nil: the client's own).
func centralClient(url string, timeout time.Duration, tr http.RoundTripper) (*client.Client, error) {
	o := client.Options{URL: url, Timeout: timeout}
	if tr != nil {
		o.Transport = tr
	}
	return client.New(o)
}
