package queue

import (
	"errors"
	"os"
	"syscall"
)

// defaultReserve is the space kept in PATH.reserve: 4 MiB.
const defaultReserve = 4 << 20

// A full disk must not wedge the queue: removing acknowledged records is a
// bbolt write too (copy-on-write pages), so on a full disk Ack would fail
// and the backlog could never drain. The queue therefore keeps a reserve
// file of real (not sparse) bytes beside itself; when a write that frees
// records fails with ENOSPC, the reserve is deleted and the write retried.
// Enqueue never uses the reserve: on a full disk a new scan is refused
// (never confirmed). The reserve is made again at Open and at every purge
// period once there is room.

func (q *Queue) reservePath() string { return q.path + ".reserve" }

// ensureReserve (re)creates the reserve file if it is missing or short.
func (q *Queue) ensureReserve() {
	if q.opts.Reserve <= 0 {
		return
	}
	p := q.reservePath()
	if fi, err := os.Stat(p); err == nil && fi.Size() >= q.opts.Reserve {
		return
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return
	}
	buf := make([]byte, 64<<10)
	for i := range buf {
		buf[i] = 0x5A
	}
	var werr error
	for n := int64(0); n < q.opts.Reserve && werr == nil; n += int64(len(buf)) {
		_, werr = f.Write(buf[:min(int64(len(buf)), q.opts.Reserve-n)])
	}
	if werr == nil {
		werr = f.Sync()
	}
	f.Close()
	if werr != nil {
		os.Remove(p)
		q.log.Warn("queue: no room for the disk-full reserve yet", "bytes", q.opts.Reserve, "err", werr)
	}
}

// releaseReserve deletes the reserve; it reports whether there was one.
func (q *Queue) releaseReserve() bool {
	if err := os.Remove(q.reservePath()); err != nil {
		return false
	}
	q.log.Warn("disk full: released the queue's space reserve so that delivered scans can be removed")
	return true
}

func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// freeing runs a write that frees records (ack, reject, purge); on a full
// disk it releases the reserve and tries once more.
func (q *Queue) freeing(fn func() error) error {
	err := fn()
	if isNoSpace(err) && q.releaseReserve() {
		err = fn()
	}
	return err
}
