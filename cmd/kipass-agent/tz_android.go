package main

import (
	"os"
	"time"
	_ "time/tzdata" // zone data: Android has no /usr/share/zoneinfo for Go
)

// Go on Android ignores TZ and runs in UTC; quiet hours and the status
// page's hours need the facility's zone (TZ=Asia/Seoul, set by the launcher).
func init() {
	if tz := os.Getenv("TZ"); tz != "" {
		if loc, err := time.LoadLocation(tz); err == nil {
			time.Local = loc
		}
	}
}
