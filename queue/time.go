package queue

import (
	"time"

	"github.com/kipass/kipass/clock"
)

// Time is the time source that stamps and ages records: the corrected
// time and whether it is trusted, and the boot clock. Records are aged
// for the 28-day retention on trusted time only; a record taken while the
// time was not trusted is re-based (see Queue.Rebase) once it is.
type Time interface {
	// Now returns the corrected time and whether it is trusted.
	Now() (t time.Time, trusted bool)
	// Boot returns the id of the current boot and the time elapsed since
	// the boot (a monotonic reading that no clock step moves).
	Boot() (id string, since time.Duration)
}

// ClockTime is a Time that trusts a clock.Clock: for tests and for tools
// that run on a clock they trust. Its boot clock is the machine's.
type ClockTime struct{ Clock clock.Clock }

// Now returns the clock's time, trusted.
func (c ClockTime) Now() (time.Time, bool) { return c.Clock.Now(), true }

// Boot returns the machine's boot id and boot-clock reading.
func (c ClockTime) Boot() (string, time.Duration) { return bootReading() }

// Clock bases a record's time can rest on (Record.ClockBasis).
const (
	// BasisTrusted: stamped with trusted corrected time.
	BasisTrusted = "trusted"
	// BasisUntrusted: stamped while the time was not trusted; the record
	// is kept (never destroyed by age) until it is re-based.
	BasisUntrusted = "untrusted"
	// BasisMonotonic: re-based from the boot clock: trusted time now minus
	// the boot-clock time elapsed since the record was taken (same boot).
	BasisMonotonic = "rebased_monotonic"
	// BasisIssuedAt: re-based from the signed token's own issued-at (a
	// token lives 15 s, so it dates the visit within seconds).
	BasisIssuedAt = "rebased_issued_at"
	// BasisFirstTrusted: taken in an earlier boot under an untrusted clock,
	// with no issued-at: dated at the first trusted time seen after, which
	// is never before the visit (so never destroyed early).
	BasisFirstTrusted = "rebased_first_trusted"
)

// rebase returns the trusted time of a record taken under an untrusted
// clock, given the trusted time now and the boot reading now.
func rebase(s storedRecord, now time.Time, bootID string, boot time.Duration) (time.Time, string) {
	if s.BootID != "" && s.BootID == bootID && boot >= s.Boot {
		return now.Add(-(boot - s.Boot)), BasisMonotonic
	}
	if !s.IssuedAt.IsZero() && !s.IssuedAt.After(now) {
		return s.IssuedAt, BasisIssuedAt
	}
	return now, BasisFirstTrusted
}
