package agent

import "errors"

// Sentinel errors of the agent.
var (
	// ErrConfig marks a configuration error: permanent until the file is fixed.
	ErrConfig = errors.New("config")
	// ErrNotAcknowledged means the demo ended with confirmed scans that
	// central did not acknowledge.
	ErrNotAcknowledged = errors.New("confirmed scans not acknowledged by central")
)
