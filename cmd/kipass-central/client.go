package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/kipass/kipass/central/api"
)

// caller is all the operator commands need of central: one JSON call with
// the operator's credential.
type caller interface {
	// Do sends in (JSON, when not nil) with method to path and decodes the
	// answer into out (when not nil). A refusal is a *refusedError.
	Do(ctx context.Context, method, path string, in, out any) error
}

// refusedError is central's answer to a request it refused: the HTTP
// status and central's reason and message (docs/protocol.md, Errors).
type refusedError struct {
	Status  int
	Reason  string
	Message string
}

func (e *refusedError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("central answered %d %s", e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("central refused: %s (%s, HTTP %d)", e.Message, e.Reason, e.Status)
}

// httpCaller calls central's HTTP API with a bearer credential.
type httpCaller struct {
	base       string
	credential string
	hc         *http.Client
}

// Do implements caller.
func (c *httpCaller) Do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.base, "/")+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.credential != "" {
		req.Header.Set("Authorization", "Bearer "+c.credential)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("central unreachable: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("read central's answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		var ae api.Error
		_ = json.Unmarshal(data, &ae)
		return &refusedError{Status: resp.StatusCode, Reason: ae.Reason, Message: ae.Error}
	}
	if out == nil || len(data) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("central's answer to %s %s is not the expected JSON: %w", method, path, err)
	}
	return nil
}
