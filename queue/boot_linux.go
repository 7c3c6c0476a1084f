//go:build linux

package queue

import (
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

var bootID = sync.OnceValue(func() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if id := strings.TrimSpace(string(b)); err == nil && id != "" {
		return id
	}
	return processBootID()
})

// bootReading returns the boot id (/proc/sys/kernel/random/boot_id) and
// CLOCK_BOOTTIME, which counts suspend too and is never stepped.
func bootReading() (string, time.Duration) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return processBootID(), time.Since(processStart)
	}
	return bootID(), time.Duration(ts.Nano())
}
