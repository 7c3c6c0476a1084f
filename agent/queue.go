package agent

import (
	"os"
	"path/filepath"
	"time"

	"github.com/kipass/kipass/queue"
	"github.com/kipass/kipass/status"
	"github.com/kipass/kipass/token"
	"github.com/kipass/kipass/trust"
)

// queueTime is the queue's time source: trust's corrected time, trusted
// for aging records only once it was learned from central since start (a
// persisted offset may hide a device clock stepped across a restart).
// The boot clock is the machine's.
type queueTime struct {
	clk *trust.Clock
	queue.ClockTime
}

// Now returns the corrected time and whether it rests on central's clock.
func (t queueTime) Now() (time.Time, bool) {
	trusted := t.clk.Status().Basis == trust.BasisCentral // read first: the basis only improves
	_, c := t.clk.Now()
	return c, trusted
}

// queueKeyFile is where the queue key is read: the configured path, else
// the systemd credential "queue-key", else "" (the queue's default beside
// its file).
func queueKeyFile(cfg Config) string {
	if cfg.QueueKeyFile != "" {
		return cfg.QueueKeyFile
	}
	if dir := os.Getenv("CREDENTIALS_DIRECTORY"); dir != "" {
		if p := filepath.Join(dir, "queue-key"); fileExists(p) {
			return p
		}
	}
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// tokenIssuedAt dates a record from a signed token's own issued-at.
func tokenIssuedAt(text string) (time.Time, bool) {
	c, err := token.Parse(text)
	if err != nil || c.IssuedAt.IsZero() {
		return time.Time{}, false
	}
	return c.IssuedAt, true
}

// queueAdmin is the queue's view for `kipass-agent queue` (status page API).
type queueAdmin struct{ q *queue.Queue }

// QueueCounts counts the queue's records.
func (a queueAdmin) QueueCounts() (status.QueueCounts, error) { return a.q.Counts() }

// ResendDead queues the dead letters again.
func (a queueAdmin) ResendDead() (int, error) { return a.q.ResendDead() }
