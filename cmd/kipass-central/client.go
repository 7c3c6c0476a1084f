package main

import "context"

// caller is all the operator commands need of central: one JSON call with
// the operator's credential (central/client's Client is one). Its errors
// say whether central was unreachable or refused, with central's reason.
type caller interface {
	// Do sends in (JSON, when not nil) with method to path and decodes the
	// answer into out (when not nil).
	Do(ctx context.Context, method, path string, in, out any) error
}
