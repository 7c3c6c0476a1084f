// Package soak runs the agent daemon for minutes on end at a simulated
// door and reports what a long run shows and a short test does not: its
// memory (RSS at start, end and peak), its goroutines, the frames it
// dropped and the frame→voice latency of every visitor, and checks that
// every scan it confirmed reached central.
//
// The agent runs as its own process (kipass-agent run), reading a 720p,
// 15 fps MJPEG stream served on loopback: an empty entrance, and every few
// seconds a visitor's phone showing a fresh one-time token (rendered with
// screen). Tokens come from a development issuer key and go to a reference
// central on loopback (faults.Issuer, faults.StartCentral). The agent's
// speaker is silent (audio device "none"), which starts each prompt at
// once: the latency the agent logs for a scan ends when its prompt starts.
package soak

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kipass/kipass/clock"
	"github.com/kipass/kipass/faults"
	"github.com/kipass/kipass/token"
)

// Targets of a soak. Missing one is reported, never a failure: timing on a
// shared machine is not a verdict on the code.
const (
	// TargetRSS is the largest resident memory of the agent.
	TargetRSS = 60_000_000
	// TargetGrowth is the largest growth of RSS from start to end.
	TargetGrowth = 5_000_000
	// TargetP99 is the largest 99th percentile frame→voice latency.
	TargetP99 = 100 * time.Millisecond
)

// ErrLost means a scan the agent confirmed aloud was not stored at
// central.
var ErrLost = errors.New("soak: confirmed scans not stored at central")

// ErrDied means the agent process ended before the soak stopped it.
var ErrDied = errors.New("soak: the agent died")

// ErrNoneRead means no visitor was read at all.
var ErrNoneRead = errors.New("soak: no visitor was read")

// Options configure Run. Only Agent is required.
type Options struct {
	// Agent is the kipass-agent binary to run.
	Agent string
	// Duration is how long visitors come; default 10 minutes.
	Duration time.Duration
	// Every is the time between visitors; default 3 s.
	Every time.Duration
	// Show is how long each visitor holds the phone up; default 1 s.
	Show time.Duration
	// Warmup is when the start figures (RSS, goroutines) are taken;
	// default a tenth of Duration, between 3 and 30 s.
	Warmup time.Duration
	// Progress is the time between progress lines; default 1 minute.
	Progress time.Duration
	// Variants is the number of frames rendered for each visitor (the
	// hand trembles between them); default 3. Rendering a 720p frame
	// takes tens of milliseconds, much longer in a race-enabled test.
	Variants int
	// Width, Height and FPS are the stream's; default 1280×720 at 15.
	Width, Height int
	FPS           float64
	// Dir holds the agent's data, central's and the logs; a temporary
	// directory (removed afterwards) when empty.
	Dir string
	// Out receives the progress lines; nothing when nil.
	Out io.Writer
	// Clock paces the stream and the visitors and issues the tokens;
	// clock.Real when nil. The agent, a process of its own, runs on the
	// real clock, so a soak is meant for the real one.
	Clock clock.Clock
}

func (o *Options) defaults() {
	if o.Duration <= 0 {
		o.Duration = 10 * time.Minute
	}
	if o.Every <= 0 {
		o.Every = 3 * time.Second
	}
	if o.Show <= 0 {
		o.Show = time.Second
	}
	if o.Show > o.Every/2 {
		o.Show = o.Every / 2
	}
	if o.Warmup <= 0 {
		o.Warmup = min(max(o.Duration/10, 3*time.Second), 30*time.Second)
	}
	if o.Variants <= 0 {
		o.Variants = 3
	}
	if o.Progress <= 0 {
		o.Progress = time.Minute
	}
	if o.Width <= 0 || o.Height <= 0 {
		o.Width, o.Height = 1280, 720
	}
	if o.FPS <= 0 {
		o.FPS = 15
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
}

// Report is what a soak measured.
type Report struct {
	// Duration, Every, Width, Height and FPS describe the run.
	Duration, Every time.Duration
	Width, Height   int
	FPS             float64
	// LoadStart and LoadEnd are the machine's load averages (1, 5 and
	// 15 minutes) when the run started and ended.
	LoadStart, LoadEnd string
	// PressureEnd is the machine's CPU and IO pressure (Linux PSI, the
	// share of the last 5 minutes that some task waited for a CPU, and
	// that every task waited for IO) at the end; "" where PSI is missing.
	PressureEnd string
	// RSSStart is the agent's resident memory after the warm-up, RSSEnd at
	// the end, RSSMax its peak (the largest of VmHWM and the samples,
	// taken every second), in bytes.
	RSSStart, RSSEnd, RSSMax int64
	// AnonEnd and FileEnd split RSSEnd: the agent's own memory (Go heap,
	// stacks, C allocations) and the pages of its binary and shared
	// libraries (OpenCV's in a cgo build), which other processes share.
	AnonEnd, FileEnd int64
	// GoroutinesStart and GoroutinesEnd are the agent's go_goroutines
	// after the warm-up and at the end.
	GoroutinesStart, GoroutinesEnd int
	// FramesServed were written by the stream; FramesRead and
	// FramesDropped are the agent's kipass_camera_frames_total and
	// kipass_camera_frames_dropped_total at the end.
	FramesServed, FramesRead, FramesDropped int64
	// Latencies are the frame→voice latencies of the confirmed scans,
	// sorted.
	Latencies []time.Duration
	// Visitors were shown; Confirmed were confirmed aloud by the agent;
	// Delivered of the visitors' scans are stored at central; Lost is
	// Confirmed minus Delivered when positive.
	Visitors, Confirmed, Delivered, Lost int
	// Unknown counts scans central stored that no visitor showed.
	Unknown int
	// Verdicts counts the agent's scan lines by verdict (a visitor read
	// too late shows as expired, a duplicate is not logged).
	Verdicts map[string]int
	// ErrorLines counts the agent's log lines at level ERROR; LastError
	// is the last one's message.
	ErrorLines int
	LastError  string
	// Died is set when the agent ended before the soak stopped it.
	Died string
}

// Percentile returns the q-th quantile (0..1) of the latencies, nearest
// rank; 0 without any.
func (r Report) Percentile(q float64) time.Duration {
	n := len(r.Latencies)
	if n == 0 {
		return 0
	}
	i := int(q*float64(n)+0.999999) - 1
	return r.Latencies[min(max(i, 0), n-1)]
}

// Err is the soak's verdict on correctness: the agent died, a confirmed
// scan is not at central, or no visitor was read. Targets never fail it.
func (r Report) Err() error {
	var errs []error
	if r.Died != "" {
		errs = append(errs, fmt.Errorf("%w: %s", ErrDied, r.Died))
	}
	if r.Lost > 0 {
		errs = append(errs, fmt.Errorf("%w: %d of %d", ErrLost, r.Lost, r.Confirmed))
	}
	if r.Confirmed == 0 {
		errs = append(errs, fmt.Errorf("%w (%d shown)", ErrNoneRead, r.Visitors))
	}
	return errors.Join(errs...)
}

// String is the report as printed at the end of a soak, targets beside
// the figures.
func (r Report) String() string {
	var b strings.Builder
	mb := func(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
	met := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
	growth := r.RSSEnd - r.RSSStart
	fmt.Fprintf(&b, "soak:        %v, %dx%d MJPEG at %g fps, a visitor every %v\n", r.Duration, r.Width, r.Height, r.FPS, r.Every)
	fmt.Fprintf(&b, "load:        %s at start, %s at end", r.LoadStart, r.LoadEnd)
	if r.PressureEnd != "" {
		fmt.Fprintf(&b, " (last 5 min: %s)", r.PressureEnd)
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "rss:         start %s, end %s, max %s   target max ≤ %s: %s; end−start %+.1f MB ≤ %s: %s\n",
		mb(r.RSSStart), mb(r.RSSEnd), mb(r.RSSMax), mb(TargetRSS), met(r.RSSMax <= TargetRSS),
		float64(growth)/1e6, mb(TargetGrowth), met(growth <= TargetGrowth))
	fmt.Fprintf(&b, "rss at end:  %s own (anon: heap, stacks, C), %s mapped files (binary, shared libraries)\n", mb(r.AnonEnd), mb(r.FileEnd))
	fmt.Fprintf(&b, "goroutines:  start %d, end %d\n", r.GoroutinesStart, r.GoroutinesEnd)
	fmt.Fprintf(&b, "frames:      served %d, read %d, dropped %d\n", r.FramesServed, r.FramesRead, r.FramesDropped)
	p99 := r.Percentile(0.99)
	fmt.Fprintf(&b, "frame→voice: median %s, p99 %s, max %s over %d scans   target p99 ≤ %s: %s\n",
		ms(r.Percentile(0.5)), ms(p99), ms(r.Percentile(1)), len(r.Latencies), ms(TargetP99), met(len(r.Latencies) > 0 && p99 <= TargetP99))
	fmt.Fprintf(&b, "visitors:    shown %d, confirmed %d, delivered to central %d, lost %d", r.Visitors, r.Confirmed, r.Delivered, r.Lost)
	if r.Unknown > 0 {
		fmt.Fprintf(&b, ", unknown at central %d", r.Unknown)
	}
	b.WriteString("\n")
	if other := otherVerdicts(r.Verdicts); other != "" {
		fmt.Fprintf(&b, "verdicts:    %s besides verified\n", other)
	}
	if r.ErrorLines > 0 {
		fmt.Fprintf(&b, "agent log:   %d error lines, the last: %s\n", r.ErrorLines, r.LastError)
	}
	if err := r.Err(); err != nil {
		fmt.Fprintf(&b, "FAIL:        %s\n", strings.ReplaceAll(err.Error(), "\n", "; "))
	} else {
		b.WriteString("ok:          the agent ran throughout and central stored every confirmed scan\n")
	}
	return b.String()
}

// The door the soak's agent serves.
const facility, device = "F-SOAK", "D-SOAK"

// Run soaks the agent binary o.Agent and returns what it measured. The
// error is for a soak that could not run (a binary, a port, a file); a
// soak that ran reports its verdict in Report.Err.
func Run(ctx context.Context, o Options) (Report, error) {
	o.defaults()
	r := Report{Duration: o.Duration, Every: o.Every, Width: o.Width, Height: o.Height, FPS: o.FPS, LoadStart: loadAverage()}
	if o.Agent == "" {
		return r, errors.New("soak: no agent binary")
	}
	if o.Dir != "" {
		if err := os.MkdirAll(o.Dir, 0o700); err != nil {
			return r, fmt.Errorf("soak: %w", err)
		}
	} else {
		d, err := os.MkdirTemp("", "kipass-soak-")
		if err != nil {
			return r, fmt.Errorf("soak: %w", err)
		}
		defer os.RemoveAll(d)
		o.Dir = d
	}

	is, err := faults.NewIssuer()
	if err != nil {
		return r, fmt.Errorf("soak: issuer: %w", err)
	}
	keys := filepath.Join(o.Dir, "keys.json")
	if err := is.WriteKeys(keys); err != nil {
		return r, fmt.Errorf("soak: %w", err)
	}
	cen, err := faults.StartCentral(o.Dir, is.Keys, nil)
	if err != nil {
		return r, fmt.Errorf("soak: central: %w", err)
	}
	centralOpen := true
	defer func() {
		if centralOpen {
			cen.Close()
		}
	}()

	empty, err := emptyScene(o.Width, o.Height, 4)
	if err != nil {
		return r, err
	}
	st, err := startStream(o.Clock, o.FPS, empty)
	if err != nil {
		return r, err
	}
	defer st.Close()

	statusAddr, err := freeAddr()
	if err != nil {
		return r, err
	}
	cfg := map[string]any{
		"facility": facility, "device": device, "entrance": "soak", "source": st.URL(),
		"camera":   map[string]any{"width": o.Width, "height": o.Height, "fps": o.FPS},
		"data_dir": filepath.Join(o.Dir, "agent"), "central_url": cen.URL, "keys_file": keys,
		"audio":     map[string]any{"device": "none"},
		"log_level": "info", "log_format": "json",
		"status": map[string]any{"listen": statusAddr},
	}
	cfgPath := filepath.Join(o.Dir, "agent.json")
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		return r, fmt.Errorf("soak: %w", err)
	}
	logPath := filepath.Join(o.Dir, "agent.log")
	ag, err := startAgent(o.Agent, cfgPath, statusAddr, logPath)
	if err != nil {
		return r, err
	}
	stopped := false
	defer func() {
		if !stopped {
			ag.stop(o.Clock, 30*time.Second)
		}
	}()
	if err := waitUp(ctx, ag, o.Clock, 30*time.Second); err != nil {
		return r, fmt.Errorf("%w (log: %s)", err, lastLines(logPath, 5))
	}

	// Memory, every second, until the end figures are taken.
	var (
		memMu   sync.Mutex
		memLast memory
	)
	sampleMem := func() {
		m, err := readMemory(ag.cmd.Process.Pid)
		if err != nil {
			return
		}
		memMu.Lock()
		memLast = m
		r.RSSMax = max(r.RSSMax, m.RSS, m.HWM)
		memMu.Unlock()
	}
	sampleMem()
	sctx, stopSampling := context.WithCancel(ctx)
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-sctx.Done():
				return
			case <-o.Clock.After(time.Second):
				sampleMem()
			}
		}
	}()
	current := func() memory {
		sampleMem()
		memMu.Lock()
		defer memMu.Unlock()
		return memLast
	}
	currentRSS := func() int64 { return current().RSS }
	goroutines := func() int {
		m, err := ag.scrape(ctx)
		if err != nil {
			return 0
		}
		return int(m["go_goroutines"])
	}

	// Visitors.
	ids := map[string]bool{}
	start := o.Clock.Now()
	end := start.Add(o.Duration)
	warm, nextProgress := start.Add(o.Warmup), start.Add(o.Progress)
	warmed := false
	nextVisitor := start
	for v := int64(1); ; v++ {
		if ended, err := ag.exited(); ended {
			r.Died = fmt.Sprintf("exited after %v: %v (log: %s)", o.Clock.Now().Sub(start).Round(time.Second), err, lastLines(logPath, 5))
			break
		}
		now := o.Clock.Now()
		if !now.Before(end) || ctx.Err() != nil {
			break
		}
		tok, err := is.Token(now)
		if err != nil {
			stopSampling()
			return r, fmt.Errorf("soak: token: %w", err)
		}
		sc, err := visitorScene(tok, o.Width, o.Height, o.Variants, v)
		if err != nil {
			stopSampling()
			return r, err
		}
		ids[token.ScanID(device, tok)] = true
		r.Visitors++
		st.show(sc)
		shown := o.Clock.Now()
		nextVisitor = nextVisitor.Add(o.Every)
		sleep(ctx, o.Clock, shown.Add(o.Show))
		st.show(empty)
		if !warmed && !o.Clock.Now().Before(warm) {
			warmed = true
			r.RSSStart, r.GoroutinesStart = currentRSS(), goroutines()
		}
		if !o.Clock.Now().Before(nextProgress) {
			nextProgress = nextProgress.Add(o.Progress)
			r.Latencies = sorted(ag.confirmed())
			m, _ := ag.scrape(ctx)
			fmt.Fprintf(o.Out, "%8v  rss %.1f MB (max %.1f)  goroutines %d  frames %d dropped %d  visitors %d confirmed %d  frame→voice p99 %.1f ms  load %s\n",
				o.Clock.Now().Sub(start).Round(time.Second), float64(currentRSS())/1e6, float64(r.RSSMax)/1e6, int(m["go_goroutines"]),
				int64(m["kipass_camera_frames_total"]), int64(m["kipass_camera_frames_dropped_total"]),
				r.Visitors, len(r.Latencies), float64(r.Percentile(0.99).Microseconds())/1000, loadAverage())
		}
		sleep(ctx, o.Clock, minTime(nextVisitor, end))
	}

	// End figures, then let the uplink deliver what is left.
	if r.Died == "" {
		if !warmed {
			r.RSSStart, r.GoroutinesStart = currentRSS(), goroutines()
		}
		m := current()
		r.RSSEnd, r.AnonEnd, r.FileEnd, r.GoroutinesEnd = m.RSS, m.Anon, m.File, goroutines()
		sleep(ctx, o.Clock, o.Clock.Now().Add(2*time.Second)) // the last visitor's frames reach the scan loop
		r.Confirmed = len(ag.confirmed())
		waitDelivered(ctx, ag, o.Clock, r.Confirmed, 60*time.Second)
		if m, err := ag.scrape(ctx); err == nil {
			r.FramesRead, r.FramesDropped = int64(m["kipass_camera_frames_total"]), int64(m["kipass_camera_frames_dropped_total"])
		}
	}
	stopSampling()
	<-sampled
	r.FramesServed = st.Served()
	r.LoadEnd, r.PressureEnd = loadAverage(), pressure()
	stopped = true
	if err := ag.stop(o.Clock, 30*time.Second); err != nil && r.Died == "" {
		r.Died = fmt.Sprintf("stopping: %v (log: %s)", err, lastLines(logPath, 5))
	}
	r.Latencies = sorted(ag.confirmed())
	r.Confirmed = len(r.Latencies)
	r.Verdicts, r.ErrorLines, r.LastError = ag.logged()

	centralOpen = false
	if err := cen.Close(); err != nil {
		return r, fmt.Errorf("soak: central: %w", err)
	}
	stored, err := faults.ReadCentral(filepath.Join(o.Dir, "central.db"))
	if err != nil && r.Confirmed > 0 {
		return r, err
	}
	for id := range stored.IDs {
		if ids[id] {
			r.Delivered++
		} else {
			r.Unknown++
		}
	}
	r.Lost = max(r.Confirmed-r.Delivered, 0)
	return r, nil
}

// otherVerdicts lists the verdicts other than verified, "expired 2,
// invalid 1", in name order; "" when there are none.
func otherVerdicts(v map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(v)) {
		if k != "verified" && v[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, v[k]))
		}
	}
	return strings.Join(parts, ", ")
}

// waitUp waits until the agent's /metrics answers.
func waitUp(ctx context.Context, ag *agentProc, clk clock.Clock, within time.Duration) error {
	deadline := clk.Now().Add(within)
	for {
		if ended, err := ag.exited(); ended {
			return fmt.Errorf("%w at start: %v", ErrDied, err)
		}
		if _, err := ag.scrape(ctx); err == nil {
			return nil
		}
		if clk.Now().After(deadline) {
			return fmt.Errorf("soak: the agent's status page did not answer within %v", within)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-clk.After(100 * time.Millisecond):
		}
	}
}

// waitDelivered waits until central acknowledged n scans and the agent's
// queue is empty, or within has passed.
func waitDelivered(ctx context.Context, ag *agentProc, clk clock.Clock, n int, within time.Duration) {
	deadline := clk.Now().Add(within)
	for clk.Now().Before(deadline) && ctx.Err() == nil {
		m, err := ag.scrape(ctx)
		if err == nil && m["kipass_queue_depth"] == 0 && int(m["kipass_uplink_acknowledged_total"]) >= n {
			return
		}
		if ended, _ := ag.exited(); ended {
			return
		}
		sleep(ctx, clk, clk.Now().Add(200*time.Millisecond))
	}
}

// sleep waits until t or ctx's end.
func sleep(ctx context.Context, clk clock.Clock, t time.Time) {
	d := t.Sub(clk.Now())
	if d <= 0 {
		return
	}
	select {
	case <-ctx.Done():
	case <-clk.After(d):
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func sorted(d []time.Duration) []time.Duration {
	slices.Sort(d)
	return d
}

// freeAddr returns a loopback address free at the moment.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("soak: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// loadAverage is the machine's 1, 5 and 15 minute load average.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// pressure is the share of the last 5 minutes that some task waited for
// a CPU and that every task waited for IO (/proc/pressure); "" without
// PSI.
func pressure() string {
	avg300 := func(res, kind string) string {
		b, err := os.ReadFile("/proc/pressure/" + res)
		if err != nil {
			return ""
		}
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) < 4 || f[0] != kind {
				continue
			}
			if v, ok := strings.CutPrefix(f[3], "avg300="); ok {
				return v + "%"
			}
		}
		return ""
	}
	cpu, io := avg300("cpu", "some"), avg300("io", "full")
	if cpu == "" || io == "" {
		return ""
	}
	return "cpu waited " + cpu + ", io stalled " + io
}

// lastLines returns the last n lines of the file at path, joined by " | ".
func lastLines(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], " | ")
}
