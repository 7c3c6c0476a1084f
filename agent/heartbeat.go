package agent

import (
	"github.com/kipass/kipass/heartbeat"
	"github.com/kipass/kipass/status"
)

// heartbeatState is what the heartbeat tells central's fleet view, taken
// from the status page's snapshot: the queue, the camera or scan engine,
// and the clock.
func heartbeatState(s status.Snapshot) heartbeat.State {
	hs := heartbeat.State{QueueDepth: s.Queue.Depth, OldestUnsent: s.Queue.OldestAge(s.At), Camera: s.Camera.State}
	if s.Scanner != nil { // a scan-engine device: its engine, never a camera
		hs.Camera, hs.Scanner = "", s.Scanner.State
	}
	if s.Clock.Known {
		hs.ClockOffset = s.Clock.Offset
	}
	hs.Ledger = ledgerSheets(s.Ledger)
	return hs
}
