// Command kipass-soak runs the agent daemon at a simulated door for a
// while and prints its memory, goroutines, dropped frames and frame→voice
// latency beside their targets (see package soak).
//
// Usage:
//
//	kipass-soak [-duration 10m] [-agent bin/kipass-agent] [-every 3s] [-dir DIR]
//
// It exits 1 when the agent died, a scan it confirmed is not stored at
// central, or no visitor was read; a missed target is printed, not an
// exit status.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/kipass/kipass/soak"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kipass-soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o soak.Options
	fs.DurationVar(&o.Duration, "duration", 10*time.Minute, "how long visitors come")
	fs.StringVar(&o.Agent, "agent", "bin/kipass-agent", "the kipass-agent `binary` to run")
	fs.DurationVar(&o.Every, "every", 3*time.Second, "time between visitors")
	fs.StringVar(&o.Dir, "dir", "", "working `directory` (kept afterwards); a temporary one when empty")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o.Out = stdout
	fmt.Fprintf(stdout, "soak: %v with %s, a visitor every %v\n", o.Duration, o.Agent, o.Every)
	r, err := soak.Run(ctx, o)
	if err != nil {
		fmt.Fprintln(stderr, "kipass-soak:", err)
		return 1
	}
	fmt.Fprint(stdout, r)
	if r.Err() != nil {
		return 1
	}
	return 0
}
