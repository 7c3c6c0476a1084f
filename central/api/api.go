// Package api defines the JSON messages exchanged between the agent and
// central, and their paths. docs/protocol.md documents them with examples.
package api

import "time"

// Paths of the central API.
const (
	// PathScans accepts a ScanBatch (POST) and answers a BatchResult.
	PathScans = "/v1/scans"
	// PathKeys answers the issuer key set (GET), as token.KeySet JSON.
	PathKeys = "/v1/keys"
	// PathCounts answers hourly visitor Counts (GET ?facility=&date=YYYY-MM-DD).
	PathCounts = "/v1/counts"
	// PathTime answers central's clock (GET), as Time.
	PathTime = "/v1/time"
)

// MaxBatch is the largest number of scans central accepts in one batch.
const MaxBatch = 500

// MaxBatchBytes bounds a batch request body (after gzip decoding).
const MaxBatchBytes = 4 << 20

// Scan is one scan record as sent by a device.
type Scan struct {
	// ID is the idempotency key: token.ScanID(device, token).
	ID string `json:"id"`
	// Facility and Device identify where the scan happened.
	Facility string `json:"facility"`
	Device   string `json:"device"`
	// DeviceTime is the device's own clock at the scan.
	DeviceTime time.Time `json:"device_time"`
	// CorrectedTime is the device time corrected to central's clock.
	CorrectedTime time.Time `json:"corrected_time"`
	// Token is the opaque QR text.
	Token string `json:"token"`
	// Verdict is the verdict given at the door: "verified" or "pending".
	Verdict string `json:"verdict"`
}

// ScanBatch is the body of POST /v1/scans.
type ScanBatch struct {
	// Scans holds at most MaxBatch records, oldest first.
	Scans []Scan `json:"scans"`
}

// ItemStatus is central's answer for one scan of a batch.
type ItemStatus string

// The item statuses. Accepted and Duplicate both acknowledge the scan: the
// device may delete it. Rejected is permanent: the device moves it aside and
// never sends it again. Retry asks the device to send it again later.
const (
	Accepted  ItemStatus = "accepted"
	Duplicate ItemStatus = "duplicate"
	Rejected  ItemStatus = "rejected"
	Retry     ItemStatus = "retry"
)

// Acknowledged reports whether the device may delete the scan.
func (s ItemStatus) Acknowledged() bool { return s == Accepted || s == Duplicate }

// ItemResult is central's answer for one scan.
type ItemResult struct {
	// ID repeats the scan id.
	ID string `json:"id"`
	// Status is the outcome.
	Status ItemStatus `json:"status"`
	// Reason is a machine-readable cause for Rejected or Retry.
	Reason string `json:"reason,omitempty"`
	// Copy is set when the same token was already seen at another facility.
	Copy bool `json:"copy,omitempty"`
}

// BatchResult is the answer to POST /v1/scans: one result per scan, in order.
type BatchResult struct {
	// Results has one entry per scan of the batch.
	Results []ItemResult `json:"results"`
	// ServerTime is central's clock when it answered.
	ServerTime time.Time `json:"server_time"`
}

// Counts is the answer to GET /v1/counts: visitor counts per hour of one
// day (Korea Standard Time). Counts only: central never answers a list.
type Counts struct {
	// Facility is the facility id asked for.
	Facility string `json:"facility"`
	// Date is the day, YYYY-MM-DD in KST.
	Date string `json:"date"`
	// Hours[h] is the number of visits from h:00 to h:59 KST.
	Hours [24]int `json:"hours"`
	// Total is the sum of Hours.
	Total int `json:"total"`
}

// Time is the answer to GET /v1/time.
type Time struct {
	// Now is central's clock.
	Now time.Time `json:"now"`
}

// Error is the body of every 4xx and 5xx answer.
type Error struct {
	// Error is a human-readable message.
	Error string `json:"error"`
	// Reason is a stable machine-readable code, such as "bad_json".
	Reason string `json:"reason"`
}

// KST is Korea Standard Time (UTC+9, no daylight saving), the zone of hourly counts.
var KST = time.FixedZone("KST", 9*60*60)
