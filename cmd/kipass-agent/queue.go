package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/kipass/kipass/status"
)

const queueUsage = `Usage:

	kipass-agent queue [--addr ADDR | --config FILE] [--json] [--resend-dead]

Queue asks the running agent where its scan records are: waiting for
central, dead letters (central refused them for good), undecryptable
(kept aside), and damaged queue files kept in quarantine. It prints counts
only, never a visitor or a token.

--resend-dead queues every dead letter again, for after the cause of the
refusal is fixed (the device enrolled, the facility corrected); it works
only from the device itself.

Flags:
`

func cmdQueue(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("queue", queueUsage, stderr)
	mk := addFlags(fs)
	asJSON := fs.Bool("json", false, "print the counts as JSON")
	resend := fs.Bool("resend-dead", false, "send the dead letters to central again")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := mk()
	if err != nil {
		return err
	}
	if *resend {
		var rr status.ResendReport
		if err := c.do(ctx, http.MethodPost, "/api/queue/resend-dead", &rr); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "dead letters queued again: %d\n", rr.Resent)
	}
	var qc status.QueueCounts
	if err := c.do(ctx, http.MethodGet, "/api/queue", &qc); err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(qc)
	}
	printQueue(stdout, qc)
	return nil
}

func printQueue(w io.Writer, c status.QueueCounts) {
	if c.KeyMissing {
		fmt.Fprintln(w, "QUEUE KEY MISSING: nothing is recorded until it is back")
	}
	fmt.Fprintf(w, "waiting for central:   %d\n", c.Waiting)
	fmt.Fprintf(w, "dead letters:          %d", c.Dead)
	if c.Dead > 0 {
		fmt.Fprint(w, "   (kipass-agent queue --resend-dead sends them again)")
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "undecryptable:         %d\n", c.Undecryptable)
	fmt.Fprintf(w, "quarantined files:     %d (%d records could not be salvaged)\n", c.QuarantinedFiles, c.QuarantinedUnread)
}
