//go:build !linux || android

package faults

import "context"

// PowerLossScenario needs FUSE on Linux.
func (sc Scale) PowerLossScenario(ctx context.Context, is *Issuer, cycles int, binDir string) Result {
	return Result{Scenario: "power-loss-fuse", Skipped: "needs FUSE on Linux"}
}
