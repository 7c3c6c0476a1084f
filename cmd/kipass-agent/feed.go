package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kipass/kipass/agent"
	"github.com/kipass/kipass/audio"
	"github.com/kipass/kipass/token"
)

// cmdFeed is a hidden development mode used by the fault suite (faults/):
// it runs the agent exactly like "run" (same config, queue, uplink), but
// also takes scan-engine texts from stdin, one per line, as if a scanner
// had read them. For each line it prints "confirmed <scan id>" once the
// scan is durably queued, the moment the device says "인증되었습니다", or
// "refused <prompt> <reason>" otherwise. It never prints token contents.
// After stdin ends it keeps forwarding until it is signalled.
//
//	kipass-agent feed --config FILE < texts
func cmdFeed(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("feed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg, err := loadConfig(fs, args, "config `file` (JSON; the source should be an empty folder)")
	if err != nil {
		return err
	}
	log := cfg.Logger(stderr)
	a, err := agent.Open(ctx, cfg, log, agent.Hooks{})
	if err != nil {
		return err
	}
	defer a.Close()
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	lines := make(chan string)
	go func() { // stdin may block forever: read it apart from ctx
		sc := bufio.NewScanner(stdin)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	for {
		var text string
		select {
		case err := <-done:
			return err
		case text = <-lines:
		}
		text = strings.TrimSpace(text)
		if text == "" || ctx.Err() != nil {
			continue
		}
		last, _ := a.HandleText(ctx, text, time.Now())
		if last.Recorded && (last.Prompt == audio.Verified || last.Prompt == audio.Pending) {
			fmt.Fprintf(stdout, "confirmed %s\n", token.ScanID(cfg.Device, text))
		} else {
			fmt.Fprintf(stdout, "refused %v %s\n", last.Prompt, last.Reason)
		}
	}
}
