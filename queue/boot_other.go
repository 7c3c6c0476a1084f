//go:build !linux

package queue

import "time"

// bootReading returns a per-process id and the process's monotonic time:
// records are re-based by the boot clock only within one process here.
func bootReading() (string, time.Duration) { return processBootID(), time.Since(processStart) }
