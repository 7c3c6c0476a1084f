// Package threadcpu reads the calling OS thread's CPU time, for benchmarks
// that must not depend on how busy the machine is. Callers lock their
// goroutine to its thread (runtime.LockOSThread) around a measurement.
package threadcpu

import (
	"syscall"
	"time"
)

// Now returns the calling thread's user plus system CPU time so far
// (getrusage RUSAGE_THREAD), or 0 where the kernel does not provide it.
func Now() time.Duration {
	var ru syscall.Rusage
	const rusageThread = 1 // RUSAGE_THREAD on Linux
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
