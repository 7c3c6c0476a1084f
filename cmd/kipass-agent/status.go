package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/kipass/kipass/agent"
	"github.com/kipass/kipass/status"
)

// errDegraded makes `status` exit 3 when the door is not scanning normally.
var errDegraded = errors.New("the agent is not scanning normally")

// exitDegraded is the exit status of `status` when the state line is not
// "scanning", for scripts and monitoring.
const exitDegraded = 3

// errNotRegistered makes `status` exit 4 when central refuses the device.
var errNotRegistered = errors.New("central refuses this device: it is not registered")

// exitNotRegistered is the exit status of `status` when central answered
// and refused the device (not enrolled, credential revoked): apart from 3,
// because waiting does not help; the device must be enrolled.
const exitNotRegistered = 4

const statusUsage = `Usage:

	kipass-agent status [--addr ADDR | --config FILE] [--json] [--lang ko|en]

Status asks the running agent for its state and prints it: the state line,
the queue, the last upload, the camera and the clock. It reads the agent's
local status page, so the agent must be running on this device.

The exit status is 0 when the agent is scanning, 3 when it is not (offline,
camera, scanner, clock or storage problem), 4 when central refuses the
device (not registered: enroll it), and 1 when the agent cannot be reached.

Flags:
`

const statsUsage = `Usage:

	kipass-agent stats [--addr ADDR | --config FILE] [--days N] [--json]

Stats prints today's visitors by hour and the last days by day, in total
and per entrance device. It prints counts only, never a visitor.

Flags:
`

const flushUsage = `Usage:

	kipass-agent flush [--addr ADDR | --config FILE] [--timeout D]

Flush tells the running agent to send its queued scans to central now and
shows a progress bar until the queue is empty. Scans stay safely on the
device if central cannot be reached; flush then exits 1 after the timeout,
and the agent keeps retrying on its own.

Flags:
`

// pageClient talks to the agent's status page.
type pageClient struct {
	base string
	http *http.Client
}

// addFlags registers the flags every status command shares and returns a
// function that builds the client once the flags are parsed.
func addFlags(fs *flag.FlagSet) func() (*pageClient, error) {
	addr := fs.String("addr", "", "the status page's `address` (default: status.listen from --config, else "+status.DefaultAddr+")")
	config := fs.String("config", "", "read the address from the agent's config `file`")
	return func() (*pageClient, error) {
		a := *addr
		if a == "" && *config != "" {
			cfg, err := agent.LoadConfig(*config)
			if err != nil {
				return nil, err
			}
			if cfg.Status.Listen == agent.StatusOff {
				return nil, fmt.Errorf("the status page is off in %s (status.listen)", *config)
			}
			a = cfg.Status.Listen
		}
		if a == "" {
			a = status.DefaultAddr
		}
		// A page listening on every interface is reached through loopback.
		if h, p, err := net.SplitHostPort(a); err == nil && (h == "" || h == "0.0.0.0" || h == "::") {
			a = net.JoinHostPort("127.0.0.1", p)
		}
		return &pageClient{base: "http://" + a, http: &http.Client{Timeout: 10 * time.Second}}, nil
	}
}

func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	return fs
}

func (c *pageClient) do(ctx context.Context, method, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the agent at %s (is it running? see status.listen in its config): %w", c.base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct{ Error string }
		_ = json.Unmarshal(b, &e)
		return fmt.Errorf("%s %s: %s %s", method, path, resp.Status, e.Error)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}

func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("status", statusUsage, stderr)
	mk := addFlags(fs)
	asJSON := fs.Bool("json", false, "print the agent's JSON report")
	lang := fs.String("lang", "en", "`language` of the state line: ko or en")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := mk()
	if err != nil {
		return err
	}
	var r status.StatusReport
	if err := c.do(ctx, http.MethodGet, "/api/status", &r); err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return err
		}
	} else {
		printStatus(stdout, r, *lang)
	}
	switch r.State {
	case status.Scanning:
		return nil
	case status.NotRegistered:
		return errNotRegistered
	}
	return errDegraded
}

func printStatus(w io.Writer, r status.StatusReport, lang string) {
	row := func(k, f string, a ...any) { fmt.Fprintf(w, "%-14s %s\n", k+":", fmt.Sprintf(f, a...)) }
	door := r.Facility
	if r.Entrance != "" {
		door += " · " + r.Entrance
	}
	row("state", "%s (%s)", status.T(lang, "state."+string(r.State)), r.State)
	row("door", "%s · %s", door, r.Device)
	q := fmt.Sprintf("%d waiting", r.Queue.Depth)
	if r.Queue.Depth > 0 {
		q += ", oldest " + status.Age("en", time.Duration(r.OldestAgeSeconds*float64(time.Second)))
	}
	if r.Queue.Dead > 0 {
		q += fmt.Sprintf(", %d rejected by central", r.Queue.Dead)
	}
	row("queue", "%s", q)
	if r.Uplink.LastUpload.IsZero() {
		row("last upload", "never since start")
	} else {
		row("last upload", "%s ago (%s)", status.Age("en", r.At.Sub(r.Uplink.LastUpload)), r.Uplink.LastUpload.In(status.KST).Format(status.TimeLayout))
	}
	up := fmt.Sprintf("%d acknowledged, %d errors", r.Uplink.Acknowledged, r.Uplink.Errors)
	switch {
	case r.Uplink.Refused != nil:
		up += fmt.Sprintf(", central refuses this device (%d %s): enroll it", r.Uplink.Refused.Status, r.Uplink.Refused.Reason)
	case r.Uplink.Failing:
		up += ", central unreachable now"
	}
	row("uplink", "%s", up)
	if sc := r.Scanner; sc != nil {
		line := fmt.Sprintf("%s, %d codes (%s)", sc.State, sc.Codes, sc.Source)
		if sc.Problem != "" {
			line += ": " + sc.Problem
		}
		row("scanner", "%s", line)
	} else {
		cam := fmt.Sprintf("%s, %d frames", r.Camera.State, r.Camera.Frames)
		if r.Camera.Problem != "" {
			cam += ": " + r.Camera.Problem
		}
		row("camera", "%s", cam)
	}
	clk := "offset unknown"
	if r.Clock.Known {
		clk = status.ClockOffset("en", r.Clock.Offset)
	}
	if r.Clock.Problem != "" {
		clk += ": " + r.Clock.Problem
	}
	row("clock", "%s", clk)
	if r.Storage.Problem != "" {
		row("storage", "%s", r.Storage.Problem)
	}
	var scans []string
	for _, v := range status.Verdicts {
		scans = append(scans, fmt.Sprintf("%s %d", v, r.Scans[v]))
	}
	row("scans", "%s (since %s)", strings.Join(scans, ", "), r.Started.In(status.KST).Format(status.TimeLayout))
}

func cmdStats(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("stats", statsUsage, stderr)
	mk := addFlags(fs)
	days := fs.Int("days", status.Days, "number of days to show, today included (1–60)")
	asJSON := fs.Bool("json", false, "print the counts as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *days < 1 || *days > 60 {
		return errors.New("--days must be 1 to 60")
	}
	c, err := mk()
	if err != nil {
		return err
	}
	var counts status.Counts
	if err := c.do(ctx, http.MethodGet, fmt.Sprintf("/api/counts?days=%d", *days), &counts); err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(counts)
	}
	printStats(stdout, counts)
	var paper status.LedgerReport
	if c.do(ctx, http.MethodGet, "/api/ledger", &paper) == nil && paper.Ledger != nil {
		printPaperBeside(stdout, counts, paper.Paper)
	}
	return nil
}

// printPaperBeside prints the paper-ledger visits by day beside the QR visits.
func printPaperBeside(w io.Writer, qr, paper status.Counts) {
	fmt.Fprintf(w, "\nQR and paper-ledger visits by day:\n\n%-10s %6s %6s\n", "day", "QR", "paper")
	byDay := map[string]int{}
	for _, d := range paper.Days {
		byDay[d.Day.Format("2006-01-02")] = d.Count
	}
	for _, d := range qr.Days {
		day := d.Day.Format("2006-01-02")
		fmt.Fprintf(w, "%-10s %6d %6d\n", day, d.Count, byDay[day])
	}
}

func printStats(w io.Writer, c status.Counts) {
	fmt.Fprintf(w, "Visitors today, %s: %d\n", c.Today.In(status.KST).Format("2006-01-02 MST"), c.TodayTotal())
	switch c.Source {
	case status.CountsFacility:
		fmt.Fprintln(w, "(the whole facility, by entrance, from central)")
	case status.CountsDevice:
		fmt.Fprintln(w, "(this device only, from its records)")
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%-6s %6s", "hour", "total")
	for _, d := range c.Devices {
		fmt.Fprintf(w, "  %12s", clip(entrance(d), 12))
	}
	fmt.Fprintln(w)
	max := 0
	for _, n := range c.Hours {
		max = maxInt(max, n)
	}
	for h, n := range c.Hours {
		fmt.Fprintf(w, "%02d:00  %6d", h, n)
		for _, d := range c.Devices {
			fmt.Fprintf(w, "  %12d", d.Hours[h])
		}
		fmt.Fprintf(w, "%s\n", bar(n, max, 30))
	}
	fmt.Fprintf(w, "\nVisitors by day:\n\n%-10s %6s", "day", "total")
	for _, d := range c.Devices {
		fmt.Fprintf(w, "  %12s", clip(entrance(d), 12))
	}
	fmt.Fprintln(w)
	max = 0
	for _, d := range c.Days {
		max = maxInt(max, d.Count)
	}
	for i, d := range c.Days {
		fmt.Fprintf(w, "%-10s %6d", d.Day.Format("2006-01-02"), d.Count)
		for _, dev := range c.Devices {
			fmt.Fprintf(w, "  %12d", dev.Days[i].Count)
		}
		fmt.Fprintf(w, "%s\n", bar(d.Count, max, 30))
	}
}

// entrance names a device's column: its entrance (정문), else its id.
func entrance(d status.DeviceCounts) string {
	if d.Entrance != "" {
		return d.Entrance
	}
	return d.Device
}

func bar(n, max, width int) string {
	if max <= 0 || n <= 0 {
		return ""
	}
	k := n * width / max
	if k == 0 {
		k = 1
	}
	return "  " + strings.Repeat("#", k)
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// isTerminal reports whether w is a character device (a progress bar
// redraws itself there; elsewhere flush prints plain lines).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func cmdFlush(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("flush", flushUsage, stderr)
	mk := addFlags(fs)
	timeout := fs.Duration("timeout", 2*time.Minute, "give up waiting after `duration` (the agent keeps retrying)")
	poll := fs.Duration("poll", 250*time.Millisecond, "read the queue depth every `interval`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := mk()
	if err != nil {
		return err
	}
	var fr status.FlushReport
	if err := c.do(ctx, http.MethodPost, "/api/flush", &fr); err != nil {
		return err
	}
	if fr.Depth == 0 {
		fmt.Fprintln(stdout, "nothing to send: the queue is empty")
		return nil
	}
	tty := isTerminal(stdout)
	total, depth := fr.Depth, fr.Depth
	deadline := time.Now().Add(*timeout)
	lastPrinted := -1
	for {
		sent := max(total-depth, 0)
		if tty {
			fmt.Fprintf(stdout, "\r%s", progress(sent, total, 30))
		} else if sent != lastPrinted && (depth == 0 || sent == 0) {
			fmt.Fprintln(stdout, progress(sent, total, 30))
			lastPrinted = sent
		}
		if depth == 0 {
			if tty {
				fmt.Fprintln(stdout)
			}
			return nil
		}
		if time.Now().After(deadline) {
			if tty {
				fmt.Fprintln(stdout)
			}
			return fmt.Errorf("%d scans still queued after %s; they stay on the device and the agent keeps sending", depth, *timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(*poll):
		}
		var r status.StatusReport
		if err := c.do(ctx, http.MethodGet, "/api/status", &r); err != nil {
			return err
		}
		depth = r.Queue.Depth
		total = max(total, sent+depth) // new scans arrived meanwhile
	}
}

// progress draws "[##########----------]  12/30 sent".
func progress(done, total, width int) string {
	k := width
	if total > 0 {
		k = done * width / total
	}
	return fmt.Sprintf("[%s%s] %d/%d sent", strings.Repeat("#", k), strings.Repeat("-", width-k), done, total)
}
