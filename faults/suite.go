package faults

import (
	"context"
	"regexp"
)

// Plan selects the scenarios of a suite run.
type Plan struct {
	// Only, when set, selects scenarios by group name: kill-9, net,
	// central, corrupt, clock, forensic, disk, power.
	Only *regexp.Regexp
	// Cycles is the number of kill -9 cycles (0: 30 short, 200 long).
	Cycles int
	// BinDir holds prebuilt kipass-agent and kipass-central ("" builds them).
	BinDir string
	// Self is an executable that runs OpenAndReport for "open-queue PATH"
	// (the kipass-faults binary itself).
	Self string
}

// Run runs the selected scenario groups in order, calling report with each
// group's results as they come, and returns the number of scenarios run.
func Run(ctx context.Context, sc Scale, p Plan, report func(...Result)) int {
	is, err := NewIssuer()
	if err != nil {
		report(Result{Scenario: "setup", Err: err})
		return 1
	}
	cycles := p.Cycles
	if cycles <= 0 {
		cycles = sc.pick(30, 200)
	}
	groups := []struct {
		name string
		run  func() []Result
	}{
		{"kill-9", func() []Result { return []Result{sc.KillScenario(ctx, is, cycles, p.BinDir)} }},
		{"central", func() []Result { return sc.CentralScenarios(ctx, is) }},
		{"net", func() []Result { return sc.NetworkScenarios(ctx, is) }},
		{"corrupt", func() []Result { return sc.CorruptScenarios(ctx, is, p.Self) }},
		{"clock", func() []Result { return sc.ClockScenarios(ctx, is) }},
		{"forensic", func() []Result { return []Result{sc.ForensicScenario(ctx, is)} }},
		{"disk", func() []Result { return []Result{sc.DiskFullScenario(ctx, is)} }},
		{"power", func() []Result { return []Result{sc.PowerLossScenario(ctx, is, sc.pick(10, 50), p.BinDir)} }},
	}
	n := 0
	for _, g := range groups {
		if ctx.Err() != nil {
			break
		}
		if p.Only != nil && !p.Only.MatchString(g.name) {
			continue
		}
		rs := g.run()
		n += len(rs)
		report(rs...)
	}
	return n
}
