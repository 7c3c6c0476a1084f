// Package faults is the fault suite of the scanner agent: it proves that a
// confirmed scan is never lost and never stored twice at central under
// process kills, network faults, central errors, file damage and a full
// disk. Every scenario returns a Result; the kipass-faults command prints
// one line per scenario (`make faults`, `make faults-short`).
//
// The scenarios use the real queue, uplink and central code on loopback:
// the kill -9 scenario builds and runs the real kipass-agent and
// kipass-central binaries as processes; the network scenarios put an
// in-process toxiproxy (github.com/Shopify/toxiproxy/v2) between the uplink
// and a real central; the central-answer scenarios put a small
// fault-injecting handler in front of the real central's handler.
package faults

import (
	"fmt"
	"strings"
	"time"
)

// Result is the outcome of one scenario.
type Result struct {
	// Scenario names the scenario.
	Scenario string
	// Confirmed is the number of scans the device confirmed (durably queued).
	Confirmed int
	// Delivered is the number of confirmed scans stored at central.
	Delivered int
	// Dead is the number of confirmed scans central rejected (dead letters).
	Dead int
	// Lost is the number of confirmed scans neither stored at central nor in
	// the dead letters (or, for damage trials, not accounted for). Must be 0.
	Lost int
	// Duplicates is the number of scans stored more than once at central
	// (the same token under several records). Must be 0.
	Duplicates int
	// Detail holds scenario-specific figures, "key=value" pairs.
	Detail []string
	// Elapsed is the scenario's wall time.
	Elapsed time.Duration
	// Err is a failure of the scenario itself.
	Err error
	// Skipped says why the scenario could not run here (no FUSE, ...).
	Skipped string
}

// OK reports whether the scenario met its guarantees.
func (r Result) OK() bool {
	return r.Skipped != "" || (r.Err == nil && r.Lost == 0 && r.Duplicates == 0)
}

// Line is the one-line figure the suite prints.
func (r Result) Line() string {
	verdict := "PASS"
	if r.Skipped != "" {
		return fmt.Sprintf("SKIP %-22s %s", r.Scenario, r.Skipped)
	}
	if !r.OK() {
		verdict = "FAIL"
	}
	s := fmt.Sprintf("%-4s %-22s confirmed=%-6d lost=%d duplicates=%d delivered=%-6d dead=%d",
		verdict, r.Scenario, r.Confirmed, r.Lost, r.Duplicates, r.Delivered, r.Dead)
	if len(r.Detail) > 0 {
		s += " " + strings.Join(r.Detail, " ")
	}
	s += fmt.Sprintf(" elapsed=%s", r.Elapsed.Round(100*time.Millisecond))
	if r.Err != nil {
		s += fmt.Sprintf(" error=%q", r.Err.Error())
	}
	return s
}

func (r *Result) detail(format string, args ...any) {
	r.Detail = append(r.Detail, fmt.Sprintf(format, args...))
}
