package trust

import (
	"time"

	"github.com/kipass/kipass/clock"
)

// Corrected returns c as a clock.Clock whose Now is the device time
// corrected to central's clock: the time that stamps and ages records.
// Waits (After) run on the device clock.
func (c *Clock) Corrected() clock.Clock { return corrected{c} }

// corrected is a Clock read as central's time.
type corrected struct{ c *Clock }

// Now returns the corrected time.
func (k corrected) Now() time.Time {
	_, t := k.c.Now()
	return t
}

// After waits d on the device clock.
func (k corrected) After(d time.Duration) <-chan time.Time { return k.c.o.Device.After(d) }
