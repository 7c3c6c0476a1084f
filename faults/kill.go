package faults

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/queue"
)

// BuildBinaries builds kipass-agent and kipass-central (pure Go,
// CGO_ENABLED=0) from the module that holds the working directory into dir.
func BuildBinaries(ctx context.Context, dir string) error {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	cmd := exec.CommandContext(ctx, "go", "build", "-o", dir+string(os.PathSeparator), "./cmd/kipass-agent", "./cmd/kipass-central")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build binaries: %w\n%s", err, b)
	}
	return nil
}

// processDir makes a scenario's working directory under sc.Dir and returns
// the directory of the binaries to run: binDir, or ones freshly built into
// the working directory when binDir is empty. The caller removes dir.
func (sc Scale) processDir(ctx context.Context, prefix, binDir string) (dir, bins string, err error) {
	dir, err = os.MkdirTemp(sc.Dir, prefix)
	if err != nil {
		return "", "", err
	}
	if binDir != "" {
		return dir, binDir, nil
	}
	bins = filepath.Join(dir, "bin")
	if err := BuildBinaries(ctx, bins); err != nil {
		os.RemoveAll(dir)
		return "", "", err
	}
	return dir, bins, nil
}

// proc is a child process with its log appended to a file.
type proc struct {
	cmd  *exec.Cmd
	done chan error
}

// startProc starts bin; stdin and stdout, when set, are pipe ends the
// child gets directly (the parent closes its copies).
func startProc(bin string, args []string, logPath string, stdin, stdout *os.File) (*proc, error) {
	lf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = lf
	if stdin != nil {
		cmd.Stdin = stdin
	}
	if stdout != nil {
		cmd.Stdout = stdout
	}
	err = cmd.Start()
	if stdin != nil {
		stdin.Close()
	}
	if stdout != nil {
		stdout.Close()
	}
	if err != nil {
		lf.Close()
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait(); lf.Close() }()
	return p, nil
}

// kill9 sends SIGKILL and waits for the process to die.
func (p *proc) kill9() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop sends SIGTERM and waits (SIGKILL after 30 s).
func (p *proc) stop() error {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		return err
	case <-time.After(30 * time.Second):
		p.kill9()
		return errors.New("did not stop on SIGTERM")
	}
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// KillScenario runs the real agent and central binaries as processes and
// kills them with SIGKILL at random moments while scans are fed and
// forwarded: the agent in every cycle, central in every fifth. It then lets
// the agent drain and checks every confirmed scan is at central, once.
func (sc Scale) KillScenario(ctx context.Context, is *Issuer, cycles int, binDir string) (res Result) {
	res.Scenario = "kill-9"
	start := time.Now()
	defer func() { res.Elapsed = time.Since(start) }()
	dir, binDir, err := sc.processDir(ctx, "kill9-", binDir)
	if err != nil {
		res.Err = err
		return res
	}
	defer os.RemoveAll(dir)
	agentBin, centralBin := filepath.Join(binDir, "kipass-agent"), filepath.Join(binDir, "kipass-central")
	keys := filepath.Join(dir, "keys.json")
	if err := is.WriteKeys(keys); err != nil {
		res.Err = err
		return res
	}
	frames := filepath.Join(dir, "no-frames")
	os.MkdirAll(frames, 0o700)
	addr, err := freePort()
	if err != nil {
		res.Err = err
		return res
	}
	const facility, device = "F-KILL9", "D-KILL9"
	cfg := map[string]any{
		"facility": facility, "device": device, "source": "folder:" + frames,
		"data_dir": filepath.Join(dir, "agent"), "central_url": "http://" + addr, "keys_file": keys,
		"dedup_window": "1s", "audio": map[string]any{"device": "none"}, "log_level": "info",
	}
	cfgPath := filepath.Join(dir, "agent.json")
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		res.Err = err
		return res
	}
	centralLog, agentLog := filepath.Join(dir, "central.log"), filepath.Join(dir, "agent.log")
	var cen *proc
	startCentral := func() error {
		var err error
		cen, err = startProc(centralBin, []string{"serve", "--addr", addr, "--data", filepath.Join(dir, "central"),
			"--keys", keys, "--log-level", "warn", "--dev"}, centralLog, nil, nil)
		if err != nil {
			return err
		}
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			if resp, err := http.Get("http://" + addr + api.PathTime); err == nil {
				resp.Body.Close()
				return nil
			}
			time.Sleep(20 * time.Millisecond)
		}
		return errors.New("central did not come up")
	}
	if err := startCentral(); err != nil {
		res.Err = err
		return res
	}
	defer func() {
		if cen != nil {
			cen.kill9()
		}
	}()

	led := NewLedger()
	var refused, centralKills int
	runAgent := func(stop <-chan struct{}, kill bool) error {
		n, err := runFeed(agentBin, cfgPath, agentLog, is, led, stop, kill)
		refused += n
		return err
	}

	for i := 0; i < cycles && ctx.Err() == nil; i++ {
		stop := make(chan struct{})
		life := time.Duration(30+rand.IntN(700)) * time.Millisecond
		var cwg sync.WaitGroup
		if i%5 == 4 {
			cwg.Add(1)
			go func() {
				defer cwg.Done()
				time.Sleep(time.Duration(rand.Int64N(int64(life))))
				cen.kill9()
				centralKills++
			}()
		}
		go func() { time.Sleep(life); close(stop) }()
		if err := runAgent(stop, true); err != nil {
			res.Err = err
			return res
		}
		cwg.Wait()
		if i%5 == 4 {
			if err := startCentral(); err != nil {
				res.Err = err
				return res
			}
		}
	}

	// Final drain: a clean agent run until central's count is stable.
	stop := make(chan struct{})
	var drainErr error
	go func() {
		defer close(stop)
		drainErr = waitCentralStable(ctx, "http://"+addr, facility, led.Len(), 3*time.Minute)
	}()
	if err := runAgent(stop, false); err != nil {
		res.Err = err
		return res
	}
	cen.stop()
	cen = nil

	q, err := queue.Open(filepath.Join(dir, "agent", "queue.db"), queue.Options{Log: discard})
	if err != nil {
		res.Err = err
		return res
	}
	qs, _ := q.Stats()
	dl, _ := q.DeadLetters(1 << 20)
	q.Close()
	dead := map[string]bool{}
	for _, d := range dl {
		dead[d.ID] = true
	}
	stored, err := ReadCentral(filepath.Join(dir, "central", "central.db"))
	if err != nil {
		res.Err = err
		return res
	}
	led.Check(&res, stored, dead)
	res.detail("cycles=%d central_kills=%d refused=%d left_in_queue=%d queue_alarms=%d", cycles, centralKills, refused, qs.Depth, len(qs.Alarms))
	if drainErr != nil {
		res.Err = drainErr
	}
	if len(qs.Alarms) > 0 {
		res.Err = fmt.Errorf("queue alarm after kill -9: %s", qs.Alarms[0].Reason)
	}
	return res
}

// waitCentralStable polls central's hourly counts for the facility (today
// and yesterday, KST) until the total is at least want and has not changed
// for 3 s.
func waitCentralStable(ctx context.Context, url, facility string, want int, within time.Duration) error {
	deadline := time.Now().Add(within)
	last, since := -1, time.Now()
	for time.Now().Before(deadline) {
		total := 0
		now := time.Now().In(api.KST)
		for _, d := range []time.Time{now, now.AddDate(0, 0, -1)} {
			resp, err := http.Get(url + api.PathCounts + "?facility=" + facility + "&date=" + d.Format("2006-01-02"))
			if err != nil {
				total = -1
				break
			}
			var c api.Counts
			json.NewDecoder(resp.Body).Decode(&c)
			resp.Body.Close()
			total += c.Total
		}
		if total != last {
			last, since = total, time.Now()
		} else if total >= want && time.Since(since) > 3*time.Second {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("central holds %d scans after %s, want at least %d", last, within, want)
}

// runFeed starts "kipass-agent feed", feeds it fresh tokens (when kill is
// set) until stop is closed, then kills it with SIGKILL (kill) or stops it
// with SIGTERM, and returns once its output has been read: every
// "confirmed <id>" line goes into led. It returns the refused count.
func runFeed(agentBin, cfgPath, agentLog string, is *Issuer, led *Ledger, stop <-chan struct{}, kill bool) (int, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return 0, err
	}
	defer inW.Close()
	defer outR.Close()
	ag, err := startProc(agentBin, []string{"feed", "--config", cfgPath}, agentLog, inR, outW)
	if err != nil {
		return 0, err
	}
	refused := 0
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // confirmations
		defer wg.Done()
		s := bufio.NewScanner(outR)
		for s.Scan() {
			if id, ok := strings.CutPrefix(s.Text(), "confirmed "); ok {
				led.Confirm(id)
			} else if strings.HasPrefix(s.Text(), "refused ") {
				refused++
			}
		}
	}()
	go func() { // scans
		defer wg.Done()
		if !kill {
			<-stop
			return
		}
		for {
			select {
			case <-stop:
				return
			default:
			}
			tok, err := is.Token(time.Now())
			if err != nil {
				return
			}
			if _, err := io.WriteString(inW, tok+"\n"); err != nil {
				return
			}
			time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
		}
	}()
	<-stop
	if kill {
		ag.kill9()
	} else {
		ag.stop()
	}
	inW.Close()
	wg.Wait()
	return refused, nil
}
