package faults

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kipass/kipass/queue"
	"github.com/kipass/kipass/uplink"
)

// loopFS makes and mounts a small ext4 filesystem in a file (needs root,
// mkfs.ext4 and loop devices). umount undoes it.
func loopFS(ctx context.Context, dir string, sizeMB int) (mnt string, umount func(), err error) {
	img := filepath.Join(dir, "disk.img")
	mnt = filepath.Join(dir, "mnt")
	if err := os.MkdirAll(mnt, 0o700); err != nil {
		return "", nil, err
	}
	if err := os.Truncate(img, 0); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", nil, err
	}
	f, err := os.Create(img)
	if err != nil {
		return "", nil, err
	}
	f.Truncate(int64(sizeMB) << 20)
	f.Close()
	if out, err := exec.CommandContext(ctx, "mkfs.ext4", "-q", "-F", img).CombinedOutput(); err != nil {
		return "", nil, fmt.Errorf("mkfs.ext4: %v %s", err, out)
	}
	if out, err := exec.CommandContext(ctx, "mount", "-o", "loop", img, mnt).CombinedOutput(); err != nil {
		return "", nil, fmt.Errorf("mount -o loop: %v %s", err, out)
	}
	return mnt, func() { exec.Command("umount", mnt).Run() }, nil
}

// DiskFullScenario fills the filesystem under the queue while scans keep
// arriving: an enqueue that fails is refused (never confirmed), every
// confirmed scan survives a reopen and is delivered, and once the backlog
// has drained the freed pages take new scans again. It uses a 16 MB
// loop-mounted ext4 filesystem when it can mount one (root, mkfs.ext4),
// otherwise the queue's capacity limit stands in for the full disk.
func (sc Scale) DiskFullScenario(ctx context.Context, is *Issuer) (res Result) {
	res.Scenario = "disk-full"
	start := time.Now()
	defer func() { res.Elapsed = time.Since(start) }()
	dir, err := os.MkdirTemp(sc.Dir, "diskfull-")
	if err != nil {
		res.Err = err
		return res
	}
	defer os.RemoveAll(dir)
	qdir, maxRecords := dir, 0
	mnt, umount, merr := loopFS(ctx, dir, 16)
	if merr == nil {
		defer umount()
		qdir = mnt
		res.detail("fs=loop-ext4-16MB")
	} else {
		maxRecords = 5000
		res.Scenario = "disk-full-capped"
		res.detail("fs=size-cap(%d records; loop mount unavailable: %v)", maxRecords, merr)
	}
	qpath := filepath.Join(qdir, "queue.db")
	q, err := queue.Open(qpath, queue.Options{Log: sc.log(), MaxRecords: maxRecords})
	if err != nil {
		res.Err = err
		return res
	}
	led := NewLedger()
	var refused, full atomic.Int64
	var lastErr atomic.Value
	var wg sync.WaitGroup
	// 16 writers until 300 enqueues in a row have failed.
	var streak atomic.Int64
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for streak.Load() < 300 && ctx.Err() == nil {
				r, err := is.Record("F-DISK", "D-DISK", time.Now())
				if err != nil {
					return
				}
				if _, err := q.Enqueue(r); err != nil {
					refused.Add(1)
					if errors.Is(err, queue.ErrFull) {
						full.Add(1)
					}
					lastErr.Store(err.Error())
					streak.Add(1)
					continue
				}
				streak.Store(0)
				led.Confirm(r.ID)
			}
		}()
	}
	wg.Wait()
	q.Close()
	if e, ok := lastErr.Load().(string); ok {
		if len(e) > 60 {
			e = e[:60]
		}
		res.detail("refused=%d last_error=%q", refused.Load(), e)
	}
	// Reopen on the full filesystem: every confirmed record is there.
	q, err = queue.Open(qpath, queue.Options{Log: sc.log(), MaxRecords: maxRecords})
	if err != nil {
		res.Err = fmt.Errorf("reopen on a full disk: %w", err)
		return res
	}
	defer q.Close()
	recs, err := q.Oldest(1 << 20)
	if err != nil {
		res.Err = err
		return res
	}
	res.detail("readable_after_reopen=%d", len(recs))
	// Drain to central, then show that the freed pages take new scans.
	c, err := StartCentral(dir, is.Keys, nil)
	if err != nil {
		res.Err = err
		return res
	}
	cl, err := centralClient(c.URL, 30*time.Second, nil)
	if err != nil {
		res.Err = err
		return res
	}
	snd := uplink.New(q, uplink.Options{Central: cl, Log: sc.log()})
	for {
		n, err := snd.SendOnce(ctx)
		if err != nil {
			res.Err = fmt.Errorf("drain: %w", err)
			break
		}
		if n == 0 {
			break
		}
	}
	after := 0
	for i := 0; i < 200; i++ {
		r, _ := is.Record("F-DISK", "D-DISK", time.Now())
		if _, err := q.Enqueue(r); err == nil {
			led.Confirm(r.ID)
			after++
		}
	}
	for {
		n, err := snd.SendOnce(ctx)
		if err != nil || n == 0 {
			break
		}
	}
	_, rerr := os.Stat(qpath + ".reserve")
	res.detail("reserve_released=%v accepted_after_drain=%d/200", rerr != nil, after)
	if after < 200 && res.Err == nil {
		res.Err = errors.New("the queue did not take new scans after draining")
	}
	c.Close()
	stored, err := ReadCentral(c.path)
	if err != nil {
		res.Err = err
		return res
	}
	led.Check(&res, stored, nil)
	return res
}
