package agent

import (
	"testing"
	"time"

	"github.com/kipass/kipass/status"
)

func TestHeartbeatStateFromSnapshot(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	s := status.Snapshot{At: now, Queue: status.Queue{Depth: 4, OldestEnqueued: now.Add(-90 * time.Second)},
		Camera: status.Camera{State: "failing"}, Clock: status.Clock{Known: true, Offset: -3 * time.Second}}
	hs := heartbeatState(s)
	if hs.QueueDepth != 4 || hs.OldestUnsent != 90*time.Second || hs.Camera != "failing" || hs.ClockOffset != -3*time.Second {
		t.Fatalf("state = %+v", hs)
	}
	s.Clock = status.Clock{Offset: time.Hour} // not learned yet: not reported
	if hs := heartbeatState(s); hs.ClockOffset != 0 {
		t.Fatalf("unknown offset reported: %+v", hs)
	}
}
