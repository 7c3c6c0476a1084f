package agent

import (
	"time"

	"github.com/kipass/kipass/queue"
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

// tokenIssuedAt dates a record from a signed token's own issued-at.
func tokenIssuedAt(text string) (time.Time, bool) {
	c, err := token.Parse(text)
	if err != nil || c.IssuedAt.IsZero() {
		return time.Time{}, false
	}
	return c.IssuedAt, true
}
