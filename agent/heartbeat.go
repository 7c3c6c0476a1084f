package agent

import (
	"github.com/kipass/kipass/clock"
	"github.com/kipass/kipass/heartbeat"
	"github.com/kipass/kipass/queue"
)

// heartbeatState reports the queue to central's fleet view. The clock
// offset and camera health are filled in by their rooms as they learn them.
func heartbeatState(q *queue.Queue, clk clock.Clock) func() heartbeat.State {
	if clk == nil {
		clk = clock.Real{}
	}
	return func() heartbeat.State {
		var s heartbeat.State
		if st, err := q.Stats(); err == nil {
			s.QueueDepth = st.Depth
			if !st.OldestEnqueued.IsZero() {
				s.OldestUnsent = max(clk.Now().Sub(st.OldestEnqueued), 0)
			}
		}
		return s
	}
}
