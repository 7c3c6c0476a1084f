// Command kipass-central is the reference central server of the KI-Pass
// visitor register: it stores scans from devices in its own bbolt file,
// idempotently by scan id, serves the issuer key set, and answers hourly
// visitor counts per facility (counts only, never a list).
//
// Usage:
//
//	kipass-central serve --addr 127.0.0.1:8700 --data DIR [--keys FILE]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/kipass/kipass/agent"
	"github.com/kipass/kipass/central"
	"github.com/kipass/kipass/token"
)

const usage = `kipass-central is the reference central server of the KI-Pass visitor register.

Usage:

	kipass-central serve [flags]

Run "kipass-central serve -h" for its flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "serve" {
		fmt.Fprint(stderr, usage)
		return 2
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8700", "listen `address`")
	data := fs.String("data", "", "data `dir` for central.db (required)")
	keys := fs.String("keys", "", "issuer key set `file` (JSON) served to devices and used to check tokens")
	level := fs.String("log-level", "info", "log `level`: debug, info, warn, error")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *data == "" {
		fmt.Fprintln(stderr, "kipass-central serve: --data is required")
		return 2
	}
	log := agent.NewLogger(stderr, *level)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, *addr, *data, *keys, log); err != nil {
		fmt.Fprintf(stderr, "kipass-central serve: %v\n", err)
		return 1
	}
	return 0
}

func serve(ctx context.Context, addr, data, keysFile string, log interface {
	Info(string, ...any)
}) error {
	ks := token.NewKeySet()
	if keysFile != "" {
		var err error
		if ks, err = token.LoadKeySet(keysFile); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(data, 0o700); err != nil {
		return err
	}
	cs, err := central.Open(filepath.Join(data, "central.db"), central.Options{Keys: ks})
	if err != nil {
		return err
	}
	defer cs.Close()
	hs := &http.Server{Addr: addr, Handler: cs.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.ListenAndServe() }()
	log.Info("central listening", "addr", addr, "data", data)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return hs.Shutdown(sctx)
}
