package queue

import "fmt"

// StorageHealth reports a recording risk for the status page, empty when
// all is well: the latest alarm (a quarantined file, a replaced device
// key, damage found at run time), records that could not be decrypted, or
// a queue at 90 % of its capacity. It never carries a token.
//
// An alarm stops counting as a problem once the queue has recorded a scan
// after it (the queue records again); Alarms keeps it for the record.
func (q *Queue) StorageHealth() string {
	if q.keyMissing.Load() {
		return "queue key missing: " + q.opts.KeyFile + " (nothing is recorded until it is back)"
	}
	if al := q.Alarms(); len(al) > 0 && !q.recordedSince(al[len(al)-1].seq) {
		return al[len(al)-1].Reason
	}
	st, err := q.Stats()
	if err != nil {
		return "the queue cannot be read: " + err.Error()
	}
	switch {
	case st.Undecryptable > 0:
		return fmt.Sprintf("%d queued scans could not be decrypted (device key lost or file damaged); kept aside until the 28-day purge", st.Undecryptable)
	case st.Capacity > 0 && st.Depth*10 >= st.Capacity*9:
		return fmt.Sprintf("the queue is %d%% full (%d of %d scans waiting for central)", st.Depth*100/st.Capacity, st.Depth, st.Capacity)
	}
	return ""
}

// recordedSince reports whether a scan was committed after the alarm
// numbered seq was raised.
func (q *Queue) recordedSince(seq uint64) bool { return q.recordedAt.Load() > seq }
