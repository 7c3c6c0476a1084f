package central_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kipass/kipass/central"
	"github.com/kipass/kipass/central/api"
)

// withDefaults is a secure server with the default limits, behind a proxy
// that names the client in X-Forwarded-For (so a test can speak from two
// sources on loopback).
func withDefaults() central.Options {
	o := secure
	o.Limits = &central.DefaultLimits
	o.ClientIPHeader = "X-Forwarded-For"
	return o
}

// from sends a request as source ip and returns the status, the
// Retry-After header and the error reason.
func (e *env) from(t testing.TB, ip, method, path, cred, body string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	req.Header.Set("X-Forwarded-For", "10.9.9.9, "+ip)
	if cred != "" {
		req.Header.Set("Authorization", "Bearer "+cred)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	reason := ""
	if i := strings.Index(string(b), `"reason":"`); i >= 0 {
		reason = strings.SplitN(string(b)[i+10:], `"`, 2)[0]
	}
	return resp.StatusCode, resp.Header.Get("Retry-After"), reason
}

// guess is the i-th guessed enrollment code.
func guess(i int) string {
	const alphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
	b := []byte("AAAA-BBBB-CCCC")
	for j := 13; j > 9; j-- {
		b[j] = alphabet[i%len(alphabet)]
		i /= len(alphabet)
	}
	return `{"code":"` + string(b) + `"}`
}

// TestEnrollmentGuessesThrottled: 200 enrollment-code guesses in a row
// from one address: the first 10 are answered, the other 190 get 429 with
// Retry-After; another address is not slowed; after the wait one more
// guess is answered.
func TestEnrollmentGuessesThrottled(t *testing.T) {
	forEachBackend(t, withDefaults(), func(t *testing.T, e *env) {
		answered, throttled := 0, 0
		for i := 0; i < 200; i++ {
			code, after, reason := e.from(t, "203.0.113.7", "POST", api.PathEnroll, "", guess(i))
			switch {
			case code == 401 && reason == "unknown_code":
				answered++
			case code == 429 && reason == "rate_limited" && after == "6":
				throttled++
			default:
				t.Fatalf("guess %d: %d %q %q", i, code, after, reason)
			}
		}
		if answered != central.DefaultLimits.Enroll.Burst || throttled != 200-answered {
			t.Fatalf("answered %d, throttled %d", answered, throttled)
		}
		if code, _, reason := e.from(t, "198.51.100.1", "POST", api.PathEnroll, "", `{"code":"AAAA-BBBB-CCCC"}`); code != 401 || reason != "unknown_code" {
			t.Fatalf("another source: %d %s", code, reason)
		}
		e.clk.Advance(6 * time.Second)
		if code, _, _ := e.from(t, "203.0.113.7", "POST", api.PathEnroll, "", `{"code":"AAAA-BBBB-CCCC"}`); code != 401 {
			t.Fatalf("after Retry-After: %d", code)
		}
		if code, _, _ := e.from(t, "203.0.113.7", "POST", api.PathEnroll, "", `{"code":"AAAA-BBBB-CCCC"}`); code != 429 {
			t.Fatalf("second guess after the wait: %d", code)
		}
	})
}

// TestRegistrationsThrottled: 100 registrations in a row under one
// business number from one address: 20 go through, the rest get 429.
func TestRegistrationsThrottled(t *testing.T) {
	forEachBackend(t, withDefaults(), func(t *testing.T, e *env) {
		created := 0
		for i := 0; i < 100; i++ {
			body := fmt.Sprintf(`{"business_number":"124-81-00998","name":"지점 %d","representative":"박공격","phone":"010-1234-5678","address":"부산 %d","business_type":"other"}`, i, i)
			code, after, reason := e.from(t, "203.0.113.8", "POST", api.PathFacilities, "", body)
			switch {
			case code == 201:
				created++
			case code == 429 && reason == "rate_limited" && after == "60":
			default:
				t.Fatalf("registration %d: %d %s", i, code, reason)
			}
		}
		if created != central.DefaultLimits.Register.Burst {
			t.Fatalf("%d registrations went through", created)
		}
		// The other endpoints without a credential are limited too.
		n := 0
		for ; n < 1000; n++ {
			if code, _, _ := e.from(t, "203.0.113.9", "GET", api.PathTime, "", ""); code == 429 {
				break
			}
		}
		if n != central.DefaultLimits.Public.Burst {
			t.Fatalf("time answered %d times before 429", n)
		}
	})
}

// TestIngestLimitPerCredential: a device's batches are limited per
// credential, high enough for draining a queue; past it 429 with
// Retry-After (the device keeps its scans and retries).
func TestIngestLimitPerCredential(t *testing.T) {
	o := secure
	o.Limits = &central.Limits{Ingest: central.Limit{Rate: 1, Burst: 3}}
	forEachBackend(t, o, func(t *testing.T, e *env) {
		f := e.facility(t, "124810099", "서울 중구 1")
		d1, d2 := e.enroll(t, f, "정문"), e.enroll(t, f, "후문")
		at := e.clk.Now()
		for i := 0; i < 3; i++ {
			e.send(t, d1.Credential, e.scan(t, d1.Facility, d1.Device, at))
		}
		before := e.count(t)
		code, after, reason := e.from(t, "127.0.0.1", "POST", api.PathScans, d1.Credential, `{"scans":[]}`)
		if code != 429 || after != "1" || reason != "rate_limited" {
			t.Fatalf("4th batch: %d %q %q", code, after, reason)
		}
		e.send(t, d2.Credential, e.scan(t, d2.Facility, d2.Device, at)) // another credential is not slowed
		e.clk.Advance(time.Second)
		e.send(t, d1.Credential, e.scan(t, d1.Facility, d1.Device, at))
		if n := e.count(t); n != before+2 {
			t.Fatalf("stored %d, want %d", n, before+2)
		}
	})
	// The documented default lets a device drain a day's backlog (10,000
	// scans in 500-scan batches) at once.
	if l := central.DefaultLimits.Ingest; l.Burst < 20 || l.Rate*api.MaxBatch < 5000 {
		t.Fatalf("default ingest limit %+v is too low for draining a queue", l)
	}
}

// TestSlowBodyCutOff: a request body trickled in at one byte a second is
// cut off by the server's read timeout, and oversized headers are refused.
func TestSlowBodyCutOff(t *testing.T) {
	o := secure
	o.Timeouts = &central.Timeouts{ReadHeader: time.Second, Read: 2 * time.Second, Write: 5 * time.Second,
		Idle: 5 * time.Second, MaxHeaderBytes: 4 << 10}
	e := newEnv(t, backends[0].open(t), o)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := e.c.HTTPServer(ln.Addr().String())
	go hs.Serve(ln)
	defer hs.Close()

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n", api.PathEnroll)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
				if _, err := conn.Write([]byte(" ")); err != nil {
					return
				}
			}
		}
	}()
	start := time.Now()
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err = io.ReadAll(conn) // the server answers and closes (EOF) or resets the connection
	el := time.Since(start)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("connection not closed by the server: %v after %v", err, el)
	}
	if el > 15*time.Second {
		t.Fatalf("slow body held the connection %v", el)
	}
	t.Logf("slow body cut off after %v", el.Round(100*time.Millisecond))

	// Headers larger than MaxHeaderBytes.
	req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+api.PathTime, nil)
	req.Header.Set("X-Big", strings.Repeat("a", 16<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("big headers: %d", resp.StatusCode)
	}
	// A request that stops after its first header line is cut off too.
	c2, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	fmt.Fprintf(c2, "GET %s HTTP/1.1\r\n", api.PathTime)
	c2.SetReadDeadline(time.Now().Add(15 * time.Second))
	if _, err := bufio.NewReader(c2).ReadString('\n'); err != nil && err != io.EOF {
		t.Fatalf("half a header: %v", err)
	}
}
