// Command kipass-faults runs the fault suite and the queue benchmark.
//
// Usage:
//
//	kipass-faults suite [-short] [-only REGEXP] [-cycles N] [-bin DIR]
//	kipass-faults bench-queue [-n N] [-backlog N]
//
// suite prints one figure line per scenario and exits 1 if any scenario
// lost or duplicated a confirmed scan. -short is the CI version (a few
// minutes on 2 cores); without it the long version runs (200 kill -9
// cycles, bigger backlogs, longer fault windows).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"syscall"
	"time"

	"github.com/kipass/kipass/faults"
	"github.com/kipass/kipass/logging"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: kipass-faults suite [-short] [-only REGEXP] | bench-queue")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "suite":
		return suite(ctx, args[1:], stdout, stderr)
	case "bench-queue":
		return bench(ctx, args[1:], stdout, stderr)
	case "open-queue": // child of the damage trials
		if len(args) != 2 {
			return 2
		}
		json.NewEncoder(stdout).Encode(faults.OpenAndReport(args[1]))
		return 0
	}
	fmt.Fprintf(stderr, "kipass-faults: unknown command %q\n", args[0])
	return 2
}

func suite(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("suite", flag.ContinueOnError)
	fs.SetOutput(stderr)
	short := fs.Bool("short", false, "the short (CI) version")
	only := fs.String("only", "", "run only the scenarios whose name matches `regexp`")
	cycles := fs.Int("cycles", 0, "kill -9 cycles (default 30 short, 200 long)")
	bin := fs.String("bin", "", "`dir` holding kipass-agent and kipass-central (built into a temporary dir when empty)")
	logFile := fs.String("log", "", "write component logs to `file`")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	sc := faults.Scale{Short: *short}
	if *logFile != "" {
		f, err := os.Create(*logFile)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		defer f.Close()
		sc.Log = logging.New(f, "debug")
	}
	re, err := regexp.Compile(*only)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	start := time.Now()
	failed := 0
	report := func(rs ...faults.Result) {
		for _, r := range rs {
			fmt.Fprintln(stdout, r.Line())
			if !r.OK() {
				failed++
			}
		}
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	results := faults.Run(ctx, sc, faults.Plan{Only: re, Cycles: *cycles, BinDir: *bin, Self: self}, report)
	fmt.Fprintf(stdout, "fault suite: %d scenarios, %d failed, %s\n", results, failed, time.Since(start).Round(time.Second))
	if failed > 0 || results == 0 {
		return 1
	}
	return 0
}
