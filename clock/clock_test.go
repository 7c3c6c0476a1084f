package clock

import (
	"testing"
	"time"
)

func TestFakeAfterFiresOnAdvance(t *testing.T) {
	start := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	f := NewFake(start)
	ch := f.After(15 * time.Second)
	if f.Waiters() != 1 {
		t.Fatalf("waiters = %d, want 1", f.Waiters())
	}
	f.Advance(14 * time.Second)
	select {
	case <-ch:
		t.Fatal("fired early")
	default:
	}
	f.Advance(time.Second)
	select {
	case got := <-ch:
		if !got.Equal(start.Add(15 * time.Second)) {
			t.Fatalf("fired at %v", got)
		}
	default:
		t.Fatal("did not fire at deadline")
	}
	if f.Waiters() != 0 {
		t.Fatalf("waiters left: %d", f.Waiters())
	}
}

func TestFakeNonPositiveFiresAtOnce(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	select {
	case <-f.After(0):
	default:
		t.Fatal("After(0) did not fire")
	}
}

func TestSlowedRunsSlower(t *testing.T) {
	c := NewSlowed(10)
	t0 := c.Now()
	real0 := time.Now()
	<-c.After(5 * time.Millisecond) // 50 ms of real time
	if el := time.Since(real0); el < 50*time.Millisecond {
		t.Fatalf("After(5ms) of a 10x slowed clock fired after %v of real time", el)
	}
	if got := c.Now().Sub(t0); got < 5*time.Millisecond || got > time.Since(real0) {
		t.Fatalf("slowed clock advanced %v, want about a tenth of the real time", got)
	}
}
