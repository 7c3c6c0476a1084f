// Command kipass-central is the reference central server of the KI-Pass
// visitor register: facilities enroll here, their devices send scans and
// heartbeats, managers read hourly counts (never a list), the health
// authority exports a facility's visits (logged in an append-only audit
// log), and every scan is destroyed after 28 days.
//
// Usage:
//
//	kipass-central serve --addr 127.0.0.1:8700 --data DIR [--keys FILE] [--accounts FILE] [--dev]
//	kipass-central serve --addr :8443 --data DIR --tls-cert FILE --tls-key FILE [--client-ip-header X-Forwarded-For]
//	kipass-central serve --postgres 'host=... dbname=kipass' [--keys FILE] [--accounts FILE]
//	kipass-central register|business-types|facilities|approve|reject|dispute|code|devices|rename|remove|counts|export [flags]
//
// The operator commands go through central's HTTP API (docs/protocol.md)
// with the credential in --credential FILE, so no curl is needed.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/kipass/kipass/central"
	"github.com/kipass/kipass/central/pg"
	"github.com/kipass/kipass/heartbeat"
	"github.com/kipass/kipass/logging"
	"github.com/kipass/kipass/token"
)

const usage = `kipass-central is the reference central server of the KI-Pass visitor register.

Usage:

	kipass-central serve [flags]            run the server
	kipass-central <command> [flags]        an operator command, through central's HTTP API

Operator commands (each takes --central URL and --credential FILE):

	register        register a facility; writes its manager credential (no credential needed)
	business-types  list the business type codes register accepts
	facilities      list facilities, e.g. --status held (admin)
	approve         approve a held or disputed registration (admin)
	reject          reject a held or disputed registration (admin)
	dispute         say a branch under your business number is not yours (manager)
	code            issue a one-time enrollment code for an entrance (manager)
	devices         list devices with their entrance and state (manager, staff, admin)
	rename          change the entrance a device guards (manager)
	remove          remove a lost or replaced device, revoking its credential (manager)
	counts          today's and 14 days' visitors per entrance (manager, staff, device, admin)
	export          the health authority's export of a facility's visits (authority)

Run "kipass-central <command> -h" for a command's flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the serve flags.
type options struct {
	addr, data, postgres, keys, accounts string
	dev                                  bool
	timeTolerance                        time.Duration
	tlsCert, tlsKey, clientIPHeader      string
	noticeFile, noticeWebhook            string
	// ln, when set, is listened on instead of addr (tests).
	ln net.Listener
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	case "--version", "-version", "version":
		fmt.Fprintf(stdout, "kipass-central %s (%s)\n", heartbeat.Version(), runtime.Version())
		return 0
	case "serve":
		return runServe(args[1:], stderr)
	}
	if _, ok := opCommands[args[0]]; !ok {
		fmt.Fprintf(stderr, "kipass-central: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := runOperator(ctx, args[0], args[1:], stdout, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err != nil:
		fmt.Fprintf(stderr, "kipass-central %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func runServe(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8700", "listen `address`")
	fs.StringVar(&o.data, "data", "", "data `dir` for the embedded store central.db (the default store)")
	fs.StringVar(&o.postgres, "postgres", os.Getenv("KIPASS_CENTRAL_POSTGRES"), "PostgreSQL connection `string` instead of --data (env KIPASS_CENTRAL_POSTGRES)")
	fs.StringVar(&o.keys, "keys", "", "issuer key set `file` (JSON) served to devices and used to check tokens")
	fs.StringVar(&o.accounts, "accounts", "", "operator, health-authority and issuer credentials `file` (JSON, 0600): {\"admins\":{\"name\":\"secret\"},\"authorities\":{...},\"issuers\":{...}}")
	fs.BoolVar(&o.dev, "dev", false, "development: accept scans and heartbeats from devices without a credential")
	fs.DurationVar(&o.timeTolerance, "time-tolerance", central.DefaultTimeTolerance,
		"widening of a token's validity when a verified scan's time is checked (device skew allowance + clock uncertainty)")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "serve HTTPS with this certificate `file` (PEM, the chain after the leaf); needs --tls-key")
	fs.StringVar(&o.tlsKey, "tls-key", "", "private key `file` (PEM) of --tls-cert")
	fs.StringVar(&o.clientIPHeader, "client-ip-header", "", "`header` naming the client's address, set by a trusted proxy in front (e.g. X-Forwarded-For); rate limits per source use its last value")
	fs.StringVar(&o.noticeFile, "notice-file", "", "append branch-registration notices for representatives to this `file` (JSON lines); the log when neither this nor --notice-webhook is set")
	fs.StringVar(&o.noticeWebhook, "notice-webhook", "", "post branch-registration notices to this SMS gateway `URL` (bearer token from env KIPASS_NOTICE_WEBHOOK_TOKEN)")
	level := fs.String("log-level", "info", "log `level`: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if o.timeTolerance <= 0 {
		fmt.Fprintln(stderr, "kipass-central serve: --time-tolerance must be positive")
		return 2
	}
	if o.noticeFile != "" && o.noticeWebhook != "" {
		fmt.Fprintln(stderr, "kipass-central serve: give at most one of --notice-file and --notice-webhook")
		return 2
	}
	if o.noticeWebhook != "" && !strings.HasPrefix(o.noticeWebhook, "http://") && !strings.HasPrefix(o.noticeWebhook, "https://") {
		fmt.Fprintln(stderr, "kipass-central serve: --notice-webhook must be an http(s) URL")
		return 2
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		fmt.Fprintln(stderr, "kipass-central serve: give both --tls-cert and --tls-key, or neither")
		return 2
	}
	if (o.data == "") == (o.postgres == "") {
		fmt.Fprintln(stderr, "kipass-central serve: give exactly one of --data and --postgres")
		return 2
	}
	log := logging.New(stderr, *level)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, o, log); err != nil {
		fmt.Fprintf(stderr, "kipass-central serve: %v\n", err)
		return 1
	}
	return 0
}

// accounts is the --accounts file.
type accounts struct {
	Admins      map[string]string `json:"admins"`
	Authorities map[string]string `json:"authorities"`
	Issuers     map[string]string `json:"issuers"`
}

func loadAccounts(path string) (accounts, error) {
	var a accounts
	if path == "" {
		return a, nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return a, fmt.Errorf("accounts: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return a, fmt.Errorf("accounts file %s has mode %04o: it holds credentials, so other users must not read it; run chmod 600 %s", path, perm, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return a, fmt.Errorf("accounts: %w", err)
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return a, fmt.Errorf("accounts %s: %w", path, err)
	}
	for _, m := range []map[string]string{a.Admins, a.Authorities, a.Issuers} {
		for name, secret := range m {
			if len(secret) < 16 {
				return a, fmt.Errorf("accounts %s: the credential of %q is shorter than 16 characters", path, name)
			}
		}
	}
	return a, nil
}

func serve(ctx context.Context, o options, log *slog.Logger) error {
	ks := token.NewKeySet()
	if o.keys != "" {
		var err error
		if ks, err = token.LoadKeySet(o.keys); err != nil {
			return err
		}
	}
	acc, err := loadAccounts(o.accounts)
	if err != nil {
		return err
	}
	var st central.Store
	if o.postgres != "" {
		if st, err = pg.Open(ctx, o.postgres); err != nil {
			return err
		}
	} else {
		if err := os.MkdirAll(o.data, 0o700); err != nil {
			return err
		}
		if st, err = central.OpenBolt(filepath.Join(o.data, "central.db")); err != nil {
			return err
		}
	}
	var sender central.Sender
	switch {
	case o.noticeFile != "":
		sender = &central.FileSender{Path: o.noticeFile}
	case o.noticeWebhook != "":
		sender = central.WebhookSender{URL: o.noticeWebhook, Token: os.Getenv("KIPASS_NOTICE_WEBHOOK_TOKEN")}
	}
	cs := central.New(st, central.Options{Sender: sender, Keys: ks, Log: log, RequireCredentials: !o.dev,
		Admins: acc.Admins, Authorities: acc.Authorities, Issuers: acc.Issuers, TimeTolerance: o.timeTolerance,
		ClientIPHeader: o.clientIPHeader})
	defer cs.Close()
	hs := cs.HTTPServer(o.addr)
	ln := o.ln
	if ln == nil {
		if ln, err = net.Listen("tcp", o.addr); err != nil {
			return err
		}
	}
	errc := make(chan error, 2)
	go func() {
		var err error
		if o.tlsCert != "" {
			err = hs.ServeTLS(ln, o.tlsCert, o.tlsKey)
		} else {
			err = hs.Serve(ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		errc <- err
	}()
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { errc <- cs.Run(pctx) }() // the 28-day purge, hourly
	store := "bbolt " + o.data
	if o.postgres != "" {
		store = "postgres"
	}
	log.Info("central listening", "addr", ln.Addr().String(), "tls", o.tlsCert != "", "store", store, "device_credentials_required", !o.dev)
	select {
	case err := <-errc:
		if err != nil {
			return err
		}
	case <-ctx.Done():
	}
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	return hs.Shutdown(sctx)
}
