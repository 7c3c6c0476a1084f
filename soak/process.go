package soak

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kipass/kipass/clock"
)

// agentProc is the agent running as its own process, its log parsed as it
// is written.
type agentProc struct {
	cmd    *exec.Cmd
	done   chan struct{}
	err    error // the process's exit, once done is closed
	status string

	mu        sync.Mutex
	latencies []time.Duration // frame→voice of each confirmed scan
	verdicts  map[string]int
	errors    int
	lastError string
}

// startAgent runs bin with config, appending its log to logPath.
func startAgent(bin, config, statusAddr, logPath string) (*agentProc, error) {
	lf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("soak: agent log: %w", err)
	}
	cmd := exec.Command(bin, "run", "--config", config)
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	cmd.Stdout = lf
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("soak: start %s: %w", bin, err)
	}
	p := &agentProc{cmd: cmd, done: make(chan struct{}), status: "http://" + statusAddr, verdicts: map[string]int{}}
	logged := make(chan struct{})
	go func() {
		defer close(logged)
		p.readLog(io.TeeReader(pr, lf))
		io.Copy(io.Discard, pr)
	}()
	go func() {
		p.err = cmd.Wait()
		pw.Close()
		<-logged
		lf.Close()
		close(p.done)
	}()
	return p, nil
}

// logLine is the part of the agent's JSON log lines the soak reads.
type logLine struct {
	Msg       string   `json:"msg"`
	Level     string   `json:"level"`
	Verdict   string   `json:"verdict"`
	Recorded  *bool    `json:"recorded"`
	LatencyMS *float64 `json:"latency_ms"`
	Err       string   `json:"err"`
}

// readLog tallies the verdicts and the frame→voice latency of every scan
// line ("scan", with latency_ms: from the frame's capture to the start of
// the prompt), and the error lines.
func (p *agentProc) readLog(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		p.mu.Lock()
		if l.Level == "ERROR" {
			p.errors++
			p.lastError = strings.TrimSpace(l.Msg + " " + l.Err)
		}
		if l.Msg == "scan" && l.LatencyMS != nil && l.Recorded != nil {
			p.verdicts[l.Verdict]++
			if l.Verdict == "verified" && *l.Recorded {
				p.latencies = append(p.latencies, time.Duration(*l.LatencyMS*float64(time.Millisecond)))
			}
		}
		p.mu.Unlock()
	}
}

// logged returns the verdicts of every scan line and the number of error
// lines with the last of them.
func (p *agentProc) logged() (verdicts map[string]int, errors int, last string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v := make(map[string]int, len(p.verdicts))
	for k, n := range p.verdicts {
		v[k] = n
	}
	return v, p.errors, p.lastError
}

// confirmed returns the frame→voice latencies of the scans confirmed so
// far, one per scan.
func (p *agentProc) confirmed() []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Duration(nil), p.latencies...)
}

// exited reports whether the process has ended, and how.
func (p *agentProc) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// stop asks the agent to shut down (SIGTERM) and waits; after grace it
// kills it.
func (p *agentProc) stop(clk clock.Clock, grace time.Duration) error {
	if ended, err := p.exited(); ended {
		return fmt.Errorf("agent had already ended: %v", err)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-clk.After(grace):
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("agent did not stop within %v of SIGTERM", grace)
	}
}

// memory is one reading of the process's memory.
type memory struct {
	RSS, HWM int64 // bytes: VmRSS now, VmHWM (the peak RSS so far)
	// Anon and File split RSS: the process's own memory (the Go heap,
	// stacks, C allocations) and pages of mapped files (the binary and
	// its shared libraries, shared with other processes).
	Anon, File int64
}

// readMemory reads VmRSS and VmHWM from /proc/PID/status.
func readMemory(pid int) (memory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memory{}, err
	}
	var m memory
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v) // "12345 kB"
		if len(f) != 2 || f[1] != "kB" {
			continue
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "VmRSS":
			m.RSS = n << 10
		case "VmHWM":
			m.HWM = n << 10
		case "RssAnon":
			m.Anon = n << 10
		case "RssFile":
			m.File = n << 10
		}
	}
	if m.RSS == 0 {
		return m, errors.New("no VmRSS in /proc status")
	}
	return m, nil
}

// metrics is one scrape of the agent's /metrics: series (name with its
// labels, as written) to value.
type metrics map[string]float64

// scrape reads the agent's /metrics.
func (p *agentProc) scrape(ctx context.Context) (metrics, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.status+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics: %s", resp.Status)
	}
	return parseMetrics(resp.Body)
}

// parseMetrics reads the Prometheus text format's samples.
func parseMetrics(r io.Reader) (metrics, error) {
	m := metrics{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		i := bytes.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(string(line[i+1:]), 64)
		if err != nil {
			continue
		}
		m[string(line[:i])] = v
	}
	return m, sc.Err()
}
