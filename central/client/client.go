// Package client is the one way the agent calls central: keys, time, online
// checks, scan batches, heartbeats and enrollment all go through Do. It
// owns the transport policy (TLS 1.2 or later against the system roots or a
// pinned CA; plain HTTP only to loopback unless the config says
// "insecure_http": true), the bearer credential, the size limit on answers,
// the decoding of central's error bodies, and the one classification of a
// failure as retryable or permanent.
package client

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kipass/kipass/central/api"
)

// MaxAnswer bounds the body of an answer read from central unless
// Options.MaxAnswer says otherwise.
const MaxAnswer = 8 << 20

// Clock is the time source that stamps requests: the device clock.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
}

// Options configure a Client.
type Options struct {
	// URL is central's base URL, such as "https://central.example:8443"
	// (config key central_url).
	URL string
	// Credential is the device credential, sent as a bearer token.
	Credential string
	// CAFile pins central's CA (PEM, config key central_ca_file); the system
	// roots when empty.
	CAFile string
	// InsecureHTTP allows a plain http:// URL to a host other than loopback
	// (config key insecure_http). Without it such a URL is refused.
	InsecureHTTP bool
	// MaxAnswer bounds an answer's body; the constant MaxAnswer when zero
	// (an authority export wants more).
	MaxAnswer int64
	// Timeout bounds a whole request; 10 s when zero. A shorter deadline in
	// the context wins.
	Timeout time.Duration
	// Clock stamps the readings around each exchange; the machine clock
	// when nil.
	Clock Clock
	// OnServerTime, when set, receives every answer that carries central's
	// clock (api.Timed), with the Clock readings just before the request
	// was sent and just after the answer arrived.
	OnServerTime func(sent, received, server time.Time)
	// Transport, when set, replaces the TLS transport built from CAFile
	// (the fault suite's proxies use it).
	Transport http.RoundTripper
}

// Client calls central. It is safe for concurrent use.
type Client struct {
	o    Options
	base string
	hc   *http.Client
	gzip bool
}

// New checks the URL against the transport policy, loads the pinned CA and
// returns a Client. A refused URL or an unreadable CA file is an error
// naming the config key.
func New(o Options) (*Client, error) {
	if err := CheckURL(o.URL, o.InsecureHTTP); err != nil {
		return nil, err
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.MaxAnswer <= 0 {
		o.MaxAnswer = MaxAnswer
	}
	if o.Clock == nil {
		o.Clock = machineClock{}
	}
	tr := o.Transport
	if tr == nil {
		t, err := tlsTransport(o.CAFile)
		if err != nil {
			return nil, err
		}
		tr = t
	}
	return &Client{o: o, base: strings.TrimRight(o.URL, "/"), hc: &http.Client{Timeout: o.Timeout, Transport: tr}}, nil
}

// Gzipped returns a Client sharing c's connections that gzips request
// bodies (scan batches are large and compress well).
func (c *Client) Gzipped() *Client {
	g := *c
	g.gzip = true
	return &g
}

// URL returns central's base URL.
func (c *Client) URL() string { return c.base }

// machineClock reads the machine clock.
type machineClock struct{}

func (machineClock) Now() time.Time { return time.Now() }

// CheckURL applies the transport policy to central's URL: http or https,
// with a host, and plain http only to a loopback host (localhost,
// 127.0.0.0/8, ::1) unless insecureHTTP is set. Its errors name the config
// key central_url.
func CheckURL(raw string, insecureHTTP bool) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("key \"central_url\": %q is not an http(s) URL", raw)
	}
	if u.User != nil {
		return errors.New("key \"central_url\": the URL holds a user or password; the device credential goes in credential_file")
	}
	if u.Scheme == "http" && !insecureHTTP && !isLoopback(u.Hostname()) {
		return fmt.Errorf("key \"central_url\": plain http:// to %s would send scans and the device credential unencrypted; use https://, or set \"insecure_http\": true", u.Hostname())
	}
	return nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// tlsTransport is the transport for central: TLS 1.2 or later, verified
// against the system roots, or only against the CA certificates in caFile.
func tlsTransport(caFile string) (*http.Transport, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("key \"central_ca_file\": %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("key \"central_ca_file\": %s holds no PEM certificate", caFile)
		}
		tc.RootCAs = pool
	}
	return &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     tc,
		TLSHandshakeTimeout: 5 * time.Second,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        4,
		IdleConnTimeout:     60 * time.Second,
	}, nil
}

// Do sends in (JSON; no body when nil) to path with method, and decodes a
// 2xx answer into out (ignored when nil). Every failure is an *Error,
// retryable or permanent.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	op := method + " " + path
	var body io.Reader
	if in != nil {
		b, err := c.encode(in)
		if err != nil {
			return &Error{Op: op, Err: fmt.Errorf("encode request: %w", err)}
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return &Error{Op: op, Err: err}
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
		if c.gzip {
			req.Header.Set("Content-Encoding", "gzip")
		}
	}
	if c.o.Credential != "" {
		req.Header.Set("Authorization", "Bearer "+c.o.Credential)
	}
	sent := c.o.Clock.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		return &Error{Op: op, Retryable: true, Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.o.MaxAnswer))
	received := c.o.Clock.Now()
	if err != nil {
		return &Error{Op: op, Retryable: true, Err: fmt.Errorf("read answer: %w", err)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		var ae api.Error
		_ = json.Unmarshal(data, &ae)
		return &Error{Op: op, Status: resp.StatusCode, Reason: ae.Reason, Message: ae.Error,
			Retryable:  retryableStatus(resp.StatusCode),
			RetryAfter: retryAfter(resp.Header.Get("Retry-After"), received)}
	}
	if out == nil || len(data) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return &Error{Op: op, Status: resp.StatusCode, Retryable: true, Err: fmt.Errorf("decode answer: %w", err)}
	}
	if t, ok := out.(api.Timed); ok && c.o.OnServerTime != nil {
		if server := t.CentralTime(); !server.IsZero() {
			c.o.OnServerTime(sent, received, server)
		}
	}
	return nil
}

var gzipPool = sync.Pool{New: func() any { w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed); return w }}

// encode marshals v, gzipped when c compresses bodies.
func (c *Client) encode(v any) ([]byte, error) {
	js, err := json.Marshal(v)
	if err != nil || !c.gzip {
		return js, err
	}
	var buf bytes.Buffer
	buf.Grow(len(js) / 3)
	zw := gzipPool.Get().(*gzip.Writer)
	defer gzipPool.Put(zw)
	zw.Reset(&buf)
	if _, err := zw.Write(js); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// retryableStatus reports whether an HTTP status may change by asking
// again: 5xx, 429 Too Many Requests and 408 Request Timeout.
func retryableStatus(code int) bool {
	return code >= 500 || code == http.StatusTooManyRequests || code == http.StatusRequestTimeout
}

// retryAfter parses a Retry-After header: delay seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	if n, err := strconv.Atoi(h); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
