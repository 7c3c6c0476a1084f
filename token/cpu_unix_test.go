//go:build unix

package token

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time the process has used (user + system).
// Benchmarks report it per operation beside the wall time, which a loaded
// machine inflates.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
