package trust

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/clock"
	"github.com/kipass/kipass/token"
)

// Client calls central for the trust state: the issuer key set, central's
// clock and online verification. Every answer that carries central's time
// is passed to OnServerTime.
type Client struct {
	// URL is central's base URL.
	URL string
	// Credential is the device credential, sent as a bearer token.
	Credential string
	// HTTP makes the requests; one with a 10 s timeout when nil. Online
	// verification has its own, shorter, deadline from the context.
	HTTP *http.Client
	// Device is the device clock that stamps requests; clock.Real when nil.
	Device clock.Clock
	// OnServerTime, when set, receives every sample of central's clock
	// (Clock.Learn fits).
	OnServerTime func(sent, received, server time.Time)
}

var defaultHTTP = &http.Client{Timeout: 10 * time.Second}

// do sends one request and decodes a 200 answer into out. It returns the
// device readings around the exchange.
func (c *Client) do(ctx context.Context, method, path string, body, out any) (sent, received time.Time, err error) {
	op := method + " " + path
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return sent, received, &callError{op: op, class: ErrPermanent, err: err}
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.URL+path, r)
	if err != nil {
		return sent, received, &callError{op: op, class: ErrPermanent, err: err}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Credential != "" {
		req.Header.Set("Authorization", "Bearer "+c.Credential)
	}
	hc, dev := c.HTTP, c.Device
	if hc == nil {
		hc = defaultHTTP
	}
	if dev == nil {
		dev = clock.Real{}
	}
	sent = dev.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return sent, received, &callError{op: op, class: ErrRetryable, err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	received = dev.Now()
	if err != nil {
		return sent, received, &callError{op: op, class: ErrRetryable, err: err}
	}
	if resp.StatusCode != http.StatusOK {
		class := ErrPermanent
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout {
			class = ErrRetryable
		}
		var ae api.Error
		_ = json.Unmarshal(data, &ae)
		return sent, received, &callError{op: op, class: class, err: fmt.Errorf("central answered %s (reason %q)", resp.Status, ae.Reason)}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return sent, received, &callError{op: op, class: ErrRetryable, err: fmt.Errorf("decode answer: %w", err)}
	}
	return sent, received, nil
}

func (c *Client) learn(sent, received, server time.Time) {
	if c.OnServerTime != nil && !server.IsZero() {
		c.OnServerTime(sent, received, server)
	}
}

// Keys fetches the issuer key set (GET /v1/keys). Each key is checked for
// size; an empty set is an error wrapping ErrEmptyKeySet.
func (c *Client) Keys(ctx context.Context) ([]token.PublicKey, error) {
	var ks token.KeySet
	if _, _, err := c.do(ctx, http.MethodGet, api.PathKeys, nil, &ks); err != nil {
		return nil, err
	}
	keys := ks.Keys()
	if len(keys) == 0 {
		return nil, &callError{op: "GET " + api.PathKeys, class: ErrRetryable, err: ErrEmptyKeySet}
	}
	return keys, nil
}

// Time asks central's clock (GET /v1/time) and passes the sample on.
func (c *Client) Time(ctx context.Context) (time.Time, error) {
	var t api.Time
	sent, received, err := c.do(ctx, http.MethodGet, api.PathTime, nil, &t)
	if err != nil {
		return time.Time{}, err
	}
	c.learn(sent, received, t.Now)
	return t.Now, nil
}

// Verify asks central to judge a scanned text (POST /v1/verify).
func (c *Client) Verify(ctx context.Context, req api.VerifyRequest) (api.VerifyResult, error) {
	var res api.VerifyResult
	sent, received, err := c.do(ctx, http.MethodPost, api.PathVerify, req, &res)
	if err != nil {
		return api.VerifyResult{}, err
	}
	c.learn(sent, received, res.ServerTime)
	return res, nil
}
