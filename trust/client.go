package trust

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/central/client"
	"github.com/kipass/kipass/token"
)

// Client asks central for the trust state: the issuer key set, central's
// clock and online verification. The calls go through the one client for
// central, which passes every answer carrying central's clock to its
// OnServerTime (Clock.Learn fits).
type Client struct {
	// Central makes the calls. Online verification has its own, shorter,
	// deadline from the context.
	Central *client.Client
}

// Keys fetches the issuer key set (GET /v1/keys). Each key is checked for
// size; an empty set is an error wrapping ErrEmptyKeySet.
func (c *Client) Keys(ctx context.Context) ([]token.PublicKey, error) {
	var ks token.KeySet
	if err := c.Central.Do(ctx, http.MethodGet, api.PathKeys, nil, &ks); err != nil {
		return nil, err
	}
	keys := ks.Keys()
	if len(keys) == 0 {
		return nil, fmt.Errorf("GET %s: %w: %w", api.PathKeys, client.ErrRetryable, ErrEmptyKeySet)
	}
	return keys, nil
}

// Time asks central's clock (GET /v1/time).
func (c *Client) Time(ctx context.Context) (time.Time, error) {
	var t api.Time
	if err := c.Central.Do(ctx, http.MethodGet, api.PathTime, nil, &t); err != nil {
		return time.Time{}, err
	}
	return t.Now, nil
}

// Verify asks central to judge a scanned text (POST /v1/verify).
func (c *Client) Verify(ctx context.Context, req api.VerifyRequest) (api.VerifyResult, error) {
	var res api.VerifyResult
	if err := c.Central.Do(ctx, http.MethodPost, api.PathVerify, req, &res); err != nil {
		return api.VerifyResult{}, err
	}
	return res, nil
}
