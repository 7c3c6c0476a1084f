package threadcpu_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/kipass/kipass/decode/threadcpu"
)

// Spinning costs CPU time; sleeping costs (almost) none.
func TestCountsWorkNotSleep(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c0 := threadcpu.Now()
	x := 0
	for end := time.Now().Add(30 * time.Millisecond); time.Now().Before(end); {
		x++
	}
	spun := threadcpu.Now() - c0
	if spun <= 0 || x == 0 {
		t.Fatalf("30 ms of spinning counted %v of thread CPU", spun)
	}
	c1 := threadcpu.Now()
	time.Sleep(50 * time.Millisecond)
	slept := threadcpu.Now() - c1
	if slept > 20*time.Millisecond {
		t.Errorf("50 ms of sleep counted %v of thread CPU", slept)
	}
}

// The clock resolves well below a scheduler tick: a short spin measures
// as short, not as zero or a whole tick.
func TestFinerThanATick(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var got []time.Duration
	for i := 0; i < 20; i++ {
		c0 := threadcpu.Now()
		for end := time.Now().Add(300 * time.Microsecond); time.Now().Before(end); {
		}
		got = append(got, threadcpu.Now()-c0)
	}
	fine := 0
	for _, d := range got {
		if d > 0 && d < 2*time.Millisecond {
			fine++
		}
	}
	// a preempted spin may take longer; most must measure near 300 µs
	if fine < len(got)/2 {
		t.Errorf("300 µs spins measured %v: the clock is not finer than a tick", got)
	}
}
