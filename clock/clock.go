// Package clock provides the time source that every time-dependent part of
// the agent and central takes as a dependency: token validity, backoff,
// timeouts and the 28-day purge. Production code uses Real; tests use Fake
// to move time by hand.
package clock

import (
	"sync"
	"time"
)

// Clock is the time source injected wherever time matters.
type Clock interface {
	// Now returns the current time. Real clocks carry a monotonic reading.
	Now() time.Time
	// After returns a channel that receives the time once d has elapsed.
	After(d time.Duration) <-chan time.Time
}

// Real is the wall clock of the machine.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// After returns time.After(d).
func (Real) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Fake is a manually advanced clock for tests. Its zero value is not usable;
// build one with NewFake.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

// NewFake returns a Fake clock that reads t until it is advanced.
func NewFake(t time.Time) *Fake { return &Fake{now: t} }

// Now returns the fake current time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// After returns a channel that fires when the fake clock has been advanced
// by at least d. A non-positive d fires at once.
func (f *Fake) After(d time.Duration) <-chan time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- f.now
		return ch
	}
	f.waiters = append(f.waiters, waiter{at: f.now.Add(d), ch: ch})
	return ch
}

// Advance moves the fake clock forward by d and fires due timers.
func (f *Fake) Advance(d time.Duration) { f.Set(f.Now().Add(d)) }

// Set moves the fake clock to t (forwards or backwards) and fires due timers.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = t
	kept := f.waiters[:0]
	for _, w := range f.waiters {
		if !w.at.After(t) {
			w.ch <- t
			continue
		}
		kept = append(kept, w)
	}
	f.waiters = kept
}

// Waiters reports how many timers are pending; tests use it to wait until a
// goroutine has armed its timer before advancing.
func (f *Fake) Waiters() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.waiters)
}

// Slowed is a clock that runs at 1/Factor of real speed from Start. Tests
// of the whole path under -race use it, so that 15-second tokens stay
// valid while decoding runs ten times slower than in a release build.
type Slowed struct {
	// Start is the real time at which the clock reads Start.
	Start time.Time
	// Factor is how many times slower than real time the clock runs.
	Factor time.Duration
}

// NewSlowed returns a clock starting now and running factor times slower.
func NewSlowed(factor int) Slowed {
	return Slowed{Start: time.Now(), Factor: time.Duration(max(factor, 1))}
}

// Now returns Start plus the real time elapsed since, divided by Factor.
func (c Slowed) Now() time.Time { return c.Start.Add(time.Since(c.Start) / c.Factor) }

// After fires once d of this clock's time has passed (d×Factor of real time).
func (c Slowed) After(d time.Duration) <-chan time.Time { return time.After(d * c.Factor) }
