// Command kipass-agent is the scanner agent of the KI-Pass electronic
// visitor register: it reads frames from a camera, decodes the visitor's
// one-time QR code, checks it, records the scan durably, says
// "인증되었습니다" and forwards the record to central.
//
// Usage:
//
//	kipass-agent run --config FILE      run the daemon
//	kipass-agent demo [--dir DIR]       run the whole path on a generated sample
//	kipass-agent decode [--json] IMAGE...  decode still images
//	kipass-agent status                 print the running agent's state
//	kipass-agent stats                  print visitor counts by hour and day
//	kipass-agent flush                  send the queue now, with a progress bar
//	kipass-agent queue [--resend-dead]  count the queue's records; resend dead letters
//	kipass-agent enroll --code CODE [--config FILE]  enroll this device
//	kipass-agent config check --config FILE  check a config without starting
//	kipass-agent ledger add [N] | sheets | start [DATE] | shredded DATE   the paper ledger
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/kipass/kipass/camera"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/kipass/kipass/agent"
	"github.com/kipass/kipass/demo"
	"github.com/kipass/kipass/heartbeat"
	"github.com/kipass/kipass/logging"
)

const usage = `kipass-agent is the scanner agent of the KI-Pass electronic visitor register.

Usage:

	kipass-agent <command> [flags]

Commands:

	run      run the daemon with a config file
	demo     run the whole scan path on a generated sample, with a local central
	decode   decode QR codes in still images (PNG, JPEG)
	status   print the running agent's state (exit 3 when not scanning, 4 when not registered)
	stats    print visitor counts by hour and by day
	flush    send the queued scans to central now, with a progress bar
	queue    count waiting, dead-lettered, undecryptable and quarantined records; --resend-dead
	enroll   trade a manager's one-time code for this device's credential
	config   check a config file without starting (config check --config FILE)
	ledger   count paper-ledger visits, list and start sheets, confirm shredding

Run "kipass-agent <command> -h" for a command's flags, and
"kipass-agent --version" for the version this binary was built from.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version" || args[0] == "version") {
		fmt.Fprintf(stdout, "kipass-agent %s (%s)\n", heartbeat.Version(), runtime.Version())
		return 0
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "run":
		err = cmdRun(ctx, args[1:], stderr)
	case "demo":
		err = cmdDemo(ctx, args[1:], stdout, stderr)
	case "decode":
		err = cmdDecode(args[1:], stdout, stderr)
	case "status":
		err = cmdStatus(ctx, args[1:], stdout, stderr)
	case "stats":
		err = cmdStats(ctx, args[1:], stdout, stderr)
	case "flush":
		err = cmdFlush(ctx, args[1:], stdout, stderr)
	case "queue":
		err = cmdQueue(ctx, args[1:], stdout, stderr)
	case "enroll":
		err = cmdEnroll(ctx, args[1:], stdout, stderr)
	case "config":
		err = cmdConfig(args[1:], stdout, stderr)
	case "ledger":
		err = cmdLedger(ctx, args[1:], stdout, stderr)
	case "feed": // hidden: the fault suite's scan input (see feed.go)
		err = cmdFeed(ctx, args[1:], os.Stdin, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "kipass-agent: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if errors.Is(err, errDegraded) {
		return exitDegraded
	}
	if errors.Is(err, errNotRegistered) {
		return exitNotRegistered
	}
	if err != nil {
		fmt.Fprintf(stderr, "kipass-agent %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// loadConfig parses a command's flags, of which --config is required, and
// loads that config file.
func loadConfig(fs *flag.FlagSet, args []string, usage string) (agent.Config, error) {
	path := fs.String("config", "", usage)
	if err := fs.Parse(args); err != nil {
		return agent.Config{}, err
	}
	if *path == "" {
		return agent.Config{}, errors.New("--config is required")
	}
	return agent.LoadConfig(*path)
}

func cmdRun(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg, err := loadConfig(fs, args, "config `file` (JSON; see docs/agent.example.json)")
	if err != nil {
		return err
	}
	log := cfg.Logger(stderr)
	useOpenCV(cfg.NeedsOpenCV(), "source "+camera.Redact(cfg.Source), log)
	a, err := agent.Open(ctx, cfg, log, agent.Hooks{})
	if err != nil {
		return err
	}
	defer a.Close()
	log.Info("agent running", "facility", cfg.Facility, "device", cfg.Device, "source", camera.Redact(cfg.Source))
	return a.Run(ctx)
}

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "keep the sample, queue and central files in `dir` (default: a temporary directory)")
	scans := fs.Int("scans", 12, "number of visitors in the sample")
	level := fs.String("log-level", "warn", "log `level`: debug, info, warn, error")
	device := fs.String("audio-device", "", "ALSA `device` for the voice (\"none\" for silence)")
	statusAddr := fs.String("status", "", "serve the status page on `addr` (e.g. 127.0.0.1:8080) and keep running until Ctrl-C")
	if err := fs.Parse(args); err != nil {
		return err
	}
	// The demo shows a tablet's path, a video read through OpenCV,
	// when an OpenCV build is at hand (image frames otherwise).
	useOpenCV(findOpenCVBuild() != "", "the demo's video", logging.New(stderr, *level))
	_, err := demo.Run(ctx, demo.Options{
		Dir: *dir, Scans: *scans, Out: stdout, Log: logging.New(stderr, *level),
		Audio: agent.AudioConfig{Device: *device}, StatusListen: *statusAddr,
	})
	return err
}
