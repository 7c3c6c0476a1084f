//go:build linux && !android && (amd64 || arm64)

package faults

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kipass/kipass/queue"
)

var errNoFUSE = errors.New("mount powerfs")

// PowerLossScenario runs the real agent on a FUSE filesystem (powerFS)
// that keeps writes in memory until they are fsync'd, and cuts the power
// at random moments while scans are fed and forwarded: the agent is killed
// and every write not yet fsync'd is dropped. After the cycles, a clean
// agent drains to central. No confirmed scan may be missing.
func (sc Scale) PowerLossScenario(ctx context.Context, is *Issuer, cycles int, binDir string) (res Result) {
	res.Scenario = "power-loss-fuse"
	start := time.Now()
	defer func() { res.Elapsed = time.Since(start) }()
	dir, binDir, err := sc.processDir(ctx, "powerloss-", binDir)
	if err != nil {
		res.Err = err
		return res
	}
	defer os.RemoveAll(dir)
	agentBin := filepath.Join(binDir, "kipass-agent")
	backing, mnt := filepath.Join(dir, "backing"), filepath.Join(dir, "mnt")
	for _, d := range []string{backing, mnt, filepath.Join(dir, "no-frames")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			res.Err = err
			return res
		}
	}
	c, err := StartCentral(dir, is.Keys, nil)
	if err != nil {
		res.Err = err
		return res
	}
	centralOpen := true
	defer func() {
		if centralOpen {
			c.Close()
		}
	}()
	keys := filepath.Join(dir, "keys.json")
	if err := is.WriteKeys(keys); err != nil {
		res.Err = err
		return res
	}
	const facility, device = "F-POWER", "D-POWER"
	cfg := map[string]any{
		"facility": facility, "device": device, "source": "folder:" + filepath.Join(dir, "no-frames"),
		"data_dir": filepath.Join(mnt, "agent"), "central_url": c.URL, "keys_file": keys,
		"dedup_window": "1s", "audio": map[string]any{"device": "none"}, "log_level": "info",
	}
	cfgPath := filepath.Join(dir, "agent.json")
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		res.Err = err
		return res
	}
	agentLog := filepath.Join(dir, "agent.log")
	led := NewLedger()
	refused := 0
	run := func(life time.Duration, cut bool) error {
		pfs := newPowerFS()
		srv, err := mountPowerFS(backing, mnt, pfs)
		if err != nil {
			return fmt.Errorf("%w: %w", errNoFUSE, err)
		}
		stop := make(chan struct{})
		before := led.Len()
		var werr error
		go func() {
			defer close(stop)
			if cut {
				// The life starts when this agent has confirmed its first
				// scan: a slow start-up must not eat every life, or no
				// cut would land while scans are written.
				waitConfirmed(ctx, led, before, 30*time.Second)
				time.Sleep(life)
				return
			}
			werr = waitCentralStable(ctx, c.URL, facility, led.Len(), 3*time.Minute)
		}()
		n, err := runFeed(agentBin, cfgPath, agentLog, is, led, stop, cut)
		refused += n
		if cut {
			pfs.Cut() // the agent is dead; now the page cache goes too
		}
		if uerr := srv.Unmount(); uerr != nil && err == nil {
			err = fmt.Errorf("unmount: %w", uerr)
		}
		if err == nil {
			err = werr
		}
		return err
	}
	for i := 0; i < cycles && ctx.Err() == nil; i++ {
		if err := run(time.Duration(100+rand.IntN(700))*time.Millisecond, true); err != nil {
			if i == 0 && errors.Is(err, errNoFUSE) {
				res.Skipped = "FUSE mount unavailable here (needs /dev/fuse and root): " + err.Error()
				return res
			}
			res.Err = err
			return res
		}
	}
	if err := run(0, false); err != nil {
		res.Err = err
	}
	if led.Len() == 0 {
		res.Err = fmt.Errorf("no scan was confirmed in %d power cycles, so the scenario tested nothing; the agent log ends: %s", cycles, logEnd(agentLog, 400))
		return res
	}
	q, err := queue.Open(filepath.Join(backing, "agent", "queue.db"), queue.Options{Log: discard})
	if err != nil {
		res.Err = err
		return res
	}
	qs, _ := q.Stats()
	q.Close()
	c.Close()
	centralOpen = false
	stored, err := ReadCentral(c.path)
	if err != nil {
		res.Err = err
		return res
	}
	led.Check(&res, stored, nil)
	res.detail("power_cuts=%d refused=%d left_in_queue=%d queue_alarms=%d", cycles, refused, qs.Depth, len(qs.Alarms))
	if len(qs.Alarms) > 0 && res.Err == nil {
		res.Err = fmt.Errorf("queue alarm after power loss: %s", qs.Alarms[0].Reason)
	}
	return res
}

// waitConfirmed returns once the ledger holds more than n confirmed scans,
// or after limit.
func waitConfirmed(ctx context.Context, led *Ledger, n int, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for led.Len() <= n && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
}

// logEnd is the last n bytes of the file at path, on one line.
func logEnd(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", " | ")
}
