//go:build !linux || android || !(amd64 || arm64)

package faults

import "context"

// PowerLossScenario needs FUSE on Linux (go-fuse builds on amd64 and arm64).
func (sc Scale) PowerLossScenario(ctx context.Context, is *Issuer, cycles int, binDir string) Result {
	return Result{Scenario: "power-loss-fuse", Skipped: "needs FUSE on Linux amd64/arm64"}
}
