package faults

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/kipass/kipass/central/api"
)

// Fault is one misbehaviour of central on POST /v1/scans.
type Fault struct {
	// Status, when not 0, is answered instead of passing the request on.
	Status int
	// RetryAfter is sent with Status when not "".
	RetryAfter string
	// Delay holds the request this long before passing it on to central
	// (a slow central: the answer arrives after the client gave up).
	Delay time.Duration
	// Times is how many requests get the fault.
	Times int
}

// FaultHandler injects faults in front of the real central's handler: the
// first Fault.Times batch posts get the fault, later ones pass.
type FaultHandler struct {
	next  http.Handler
	fault Fault

	mu      sync.Mutex
	faulted int
	passed  int
	slow    sync.WaitGroup
}

// NewFaultHandler wraps next.
func NewFaultHandler(next http.Handler, f Fault) *FaultHandler {
	return &FaultHandler{next: next, fault: f}
}

// Counts reports faulted and passed batch posts.
func (h *FaultHandler) Counts() (faulted, passed int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.faulted, h.passed
}

// WaitSlow waits for delayed requests still being held.
func (h *FaultHandler) WaitSlow() { h.slow.Wait() }

// ServeHTTP answers the fault or passes the request on.
func (h *FaultHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != api.PathScans {
		h.next.ServeHTTP(w, r)
		return
	}
	h.mu.Lock()
	hit := h.faulted < h.fault.Times
	if hit {
		h.faulted++
	} else {
		h.passed++
	}
	h.mu.Unlock()
	if !hit {
		h.next.ServeHTTP(w, r)
		return
	}
	if h.fault.Delay > 0 {
		h.slow.Add(1)
		defer h.slow.Done()
		time.Sleep(h.fault.Delay)
	}
	if h.fault.Status == 0 {
		h.next.ServeHTTP(w, r)
		return
	}
	if h.fault.RetryAfter != "" {
		w.Header().Set("Retry-After", h.fault.RetryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(h.fault.Status)
	w.Write([]byte(`{"error":"injected fault ` + strconv.Itoa(h.fault.Status) + `","reason":"fault"}`))
}
