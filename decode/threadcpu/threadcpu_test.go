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
