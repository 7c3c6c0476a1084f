// Package threadcpu reads the calling OS thread's CPU time, for benchmarks
// that must not depend on how busy the machine is. Callers lock their
// goroutine to its thread (runtime.LockOSThread) around a measurement.
package threadcpu

import (
	"syscall"
	"time"
	"unsafe"
)

// clockThreadCPUTime is CLOCK_THREAD_CPUTIME_ID: the scheduler's own
// count of the thread's run time, to the nanosecond. getrusage's
// RUSAGE_THREAD, used before, counts whole scheduler ticks (4 ms at
// HZ=250), which made every per-frame figure a multiple of the tick.
const clockThreadCPUTime = 3

// Now returns the calling thread's CPU time so far, or 0 where the kernel
// does not provide it.
func Now() time.Duration {
	var ts syscall.Timespec
	if _, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTime, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		return 0
	}
	return time.Duration(ts.Nano())
}
