package faults

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/kipass/kipass/queue"
	"github.com/kipass/kipass/uplink"
)

// BenchOptions size BenchQueue.
type BenchOptions struct {
	// N is the number of records of each enqueue figure.
	N int
	// Backlog is the number of records drained to central.
	Backlog int
	// Workers is the number of concurrent enqueuers (group commit).
	Workers int
	// Dir holds the files; a temporary directory when "".
	Dir string
	// Parallel is the uplink's batches in flight (0: the uplink default, 2).
	Parallel int
}

// BenchQueue measures the durable enqueue rate (fsync on), single writer
// and with concurrent writers (group commit), and the drain rate of a
// backlog to a real central on loopback, in batches of 500 with gzip. It
// returns one line per figure.
func BenchQueue(ctx context.Context, o BenchOptions) ([]string, error) {
	dir, err := os.MkdirTemp(o.Dir, "bench-queue-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	is, err := NewIssuer()
	if err != nil {
		return nil, err
	}
	var lines []string
	mk := func(n int) ([]queue.Record, error) {
		rs := make([]queue.Record, n)
		now := time.Now()
		for i := range rs {
			r, err := is.Record("F-BENCH", "D-BENCH", now)
			if err != nil {
				return nil, err
			}
			rs[i] = r
		}
		return rs, nil
	}

	// 1. Single writer: one fsync'd transaction per scan.
	single := min(o.N, 5000)
	rs, err := mk(single)
	if err != nil {
		return nil, err
	}
	q, err := queue.Open(filepath.Join(dir, "single.db"), queue.Options{Log: discard})
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	for _, r := range rs {
		if _, err := q.Enqueue(r); err != nil {
			q.Close()
			return nil, err
		}
	}
	el := time.Since(t0)
	q.Close()
	lines = append(lines, fmt.Sprintf("enqueue durable, 1 writer:           %8.0f scans/s  (%d scans in %s, fsync per scan)",
		float64(single)/el.Seconds(), single, el.Round(time.Millisecond)))

	// 2. Concurrent writers: group commit, one fsync per group.
	rate, el, err := enqueueConcurrent(filepath.Join(dir, "group.db"), is, o.N, o.Workers, nil)
	if err != nil {
		return nil, err
	}
	lines = append(lines, fmt.Sprintf("enqueue durable, %3d writers (group): %8.0f scans/s  (%d scans in %s)",
		o.Workers, rate, o.N, el.Round(time.Millisecond)))

	// 3. Drain a backlog to central on loopback.
	qpath := filepath.Join(dir, "backlog.db")
	if _, _, err := enqueueConcurrent(qpath, is, o.Backlog, 256, nil); err != nil {
		return nil, err
	}
	c, err := StartCentral(dir, is.Keys, nil)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	q, err = queue.Open(qpath, queue.Options{Log: discard})
	if err != nil {
		return nil, err
	}
	defer q.Close()
	cl, err := centralClient(c.URL, 30*time.Second, nil)
	if err != nil {
		return nil, err
	}
	snd := uplink.New(q, uplink.Options{Central: cl, Log: discard, Parallel: o.Parallel})
	cpu0 := cpuTime()
	t0 = time.Now()
	for {
		n, err := snd.SendOnce(ctx)
		if err != nil {
			return lines, fmt.Errorf("drain: %w", err)
		}
		if n == 0 {
			break
		}
	}
	el = time.Since(t0)
	cpu := cpuTime() - cpu0
	stored, _ := c.Srv.ScanCount()
	lines = append(lines, fmt.Sprintf("drain backlog to central (loopback): %8.0f scans/s  (%d scans in %s, batches of 500, gzip, %d in flight; central stored %d)",
		float64(o.Backlog)/el.Seconds(), o.Backlog, el.Round(time.Millisecond), cmp.Or(o.Parallel, 2), stored))
	lines = append(lines, fmt.Sprintf("drain CPU cost (device + central):   %8.1f µs/scan  (= %.0f scans/s per fully available core; %.1f CPU-s over %s wall)",
		float64(cpu.Microseconds())/float64(o.Backlog), float64(o.Backlog)/cpu.Seconds(), cpu.Seconds(), el.Round(time.Millisecond)))
	lines = append(lines, fmt.Sprintf("machine load average during the run: %s", loadAvg()))
	return lines, nil
}

// enqueueConcurrent enqueues n fresh records from workers goroutines into
// the queue at path and returns the rate.
func enqueueConcurrent(path string, is *Issuer, n, workers int, led *Ledger) (float64, time.Duration, error) {
	rs := make([]queue.Record, n)
	now := time.Now()
	for i := range rs {
		r, err := is.Record("F-BENCH", "D-BENCH", now)
		if err != nil {
			return 0, 0, err
		}
		rs[i] = r
	}
	q, err := queue.Open(path, queue.Options{Log: discard, MaxRecords: n + 1})
	if err != nil {
		return 0, 0, err
	}
	defer q.Close()
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	t0 := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if _, err := q.Enqueue(rs[i]); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				if led != nil {
					led.Confirm(rs[i].ID)
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(t0)
	if err, _ := firstErr.Load().(error); err != nil {
		return 0, el, err
	}
	return float64(n) / el.Seconds(), el, nil
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadAvg reads /proc/loadavg ("?" when it cannot).
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ") + fmt.Sprintf(" (%d CPUs)", runtime.NumCPU())
}
