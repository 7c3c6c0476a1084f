package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/kipass/kipass/agent"
	"github.com/kipass/kipass/status"
)

const ledgerUsage = `Usage:

	kipass-agent ledger add [N]          count N visitors who signed the paper ledger (default 1)
	kipass-agent ledger sheets           list the ledger's sheets and their destroy dates
	kipass-agent ledger start [DATE]     start a new sheet (YYYY-MM-DD, default today)
	kipass-agent ledger shredded DATE    confirm that the sheet of DATE was shredded

Ledger talks to the running agent's status page. Changes need the manager
PIN, read from --pin-file or from status.pin_file of --config. A paper visit
is a count only: nothing about the visitor enters the device. Sheets must be
shredded 4 weeks after their last entry.

Flags (before the subcommand):
`

func cmdLedger(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("ledger", ledgerUsage, stderr)
	mk := addFlags(fs)
	pinFile := fs.String("pin-file", "", "read the manager PIN from `file` (default: status.pin_file of --config)")
	asJSON := fs.Bool("json", false, "print the agent's answer as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return errors.New("a subcommand is required: add, sheets, start or shredded")
	}
	c, err := mk()
	if err != nil {
		return err
	}
	pin := func() (string, error) {
		path := *pinFile
		if path == "" {
			if cf := fs.Lookup("config").Value.String(); cf != "" {
				cfg, err := agent.LoadConfig(cf)
				if err != nil {
					return "", err
				}
				path = cfg.Status.PINFile
			}
		}
		if path == "" {
			return "", errors.New("changing the paper ledger needs the manager PIN: give --pin-file, or --config with status.pin_file")
		}
		return status.LoadPIN(path)
	}
	var rep status.LedgerReport
	switch sub, more := rest[0], rest[1:]; sub {
	case "sheets":
		if len(more) != 0 {
			return errors.New("sheets takes no arguments")
		}
		err = c.do(ctx, http.MethodGet, "/api/ledger", &rep)
	case "add", "start", "shredded":
		var body any
		path := "/api/ledger/paper"
		switch sub {
		case "add":
			n := 1
			if len(more) > 1 {
				return errors.New("add takes one number")
			}
			if len(more) == 1 {
				if n, err = strconv.Atoi(more[0]); err != nil || n < 1 || n > agent.MaxPaperAtOnce {
					return fmt.Errorf("add: %q is not a number of visitors from 1 to %d", more[0], agent.MaxPaperAtOnce)
				}
			}
			body = status.PaperRequest{N: n}
		case "start":
			if len(more) > 1 {
				return errors.New("start takes at most a date")
			}
			path, body = "/api/ledger/sheets", status.SheetRequest{Date: first(more)}
		case "shredded":
			if len(more) != 1 {
				return errors.New("shredded takes the sheet's date (YYYY-MM-DD)")
			}
			path, body = "/api/ledger/shredded", status.SheetRequest{Date: more[0]}
		}
		p, perr := pin()
		if perr != nil {
			return perr
		}
		err = c.post(ctx, path, p, body, &rep)
	default:
		fs.Usage()
		return fmt.Errorf("unknown ledger subcommand %q", sub)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printLedger(stdout, rep)
	return nil
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// post sends a JSON body with the manager PIN to the agent's ledger API.
func (c *pageClient) post(ctx context.Context, path, pin string, body, v any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(status.PINHeader, pin)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the agent at %s (is it running? see status.listen in its config): %w", c.base, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		var e struct{ Error string }
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = string(bytes.TrimSpace(b))
		}
		return fmt.Errorf("%s: %s: %s", path, resp.Status, e.Error)
	}
	return json.Unmarshal(b, v)
}

func printLedger(w io.Writer, r status.LedgerReport) {
	if r.Added > 0 {
		fmt.Fprintf(w, "Counted %d paper visit(s).\n", r.Added)
	}
	if r.Sheet != nil && r.Sheet.Date != "" {
		if r.Sheet.Open() {
			fmt.Fprintf(w, "Sheet of %s started; destroy by %s.\n", r.Sheet.Date, r.Sheet.DestroyBy)
		} else {
			fmt.Fprintf(w, "Sheet of %s recorded as shredded.\n", r.Sheet.Date)
		}
	}
	fmt.Fprintf(w, "Paper visits today: %d\n", r.Paper.TodayTotal())
	if r.Ledger == nil {
		fmt.Fprintln(w, "This device keeps no paper ledger.")
		return
	}
	fmt.Fprintf(w, "\n%-10s  %7s  %-10s  %s\n", "sheet", "entries", "destroy by", "state")
	for _, s := range r.Ledger.Sheets {
		state := "kept"
		switch {
		case !s.Open():
			state = "shredded " + s.ShreddedAt.In(status.KST).Format("2006-01-02")
		case r.Ledger.Today >= s.DestroyBy:
			state = "SHRED NOW"
		}
		fmt.Fprintf(w, "%-10s  %7d  %-10s  %s\n", s.Date, s.Entries, s.DestroyBy, state)
	}
	if len(r.Ledger.Sheets) == 0 {
		fmt.Fprintln(w, "(no sheet started: kipass-agent ledger start)")
	}
	if r.Ledger.Due > 0 {
		fmt.Fprintf(w, "\n%d sheet(s) must be shredded now; then: kipass-agent ledger shredded DATE\n", r.Ledger.Due)
	}
}
