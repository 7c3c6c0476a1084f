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

	// PathBusinessTypes answers the BusinessType list (GET, public).
	PathBusinessTypes = "/v1/business-types"
	// PathFacilities registers a facility (POST Registration, public) and
	// lists facilities (GET ?status=held, admin).
	PathFacilities = "/v1/facilities"
	// PathEnroll trades a one-time enrollment code for a device credential
	// (POST EnrollRequest, public; answers Enrollment).
	PathEnroll = "/v1/enroll"
	// PathRotate issues a new credential to its caller (POST, device,
	// manager or staff; answers Rotation). The old credential keeps working
	// until the new one is first used, which revokes it.
	PathRotate = "/v1/credentials/rotate"
	// PathHeartbeat receives a device's Heartbeat (POST, device).
	PathHeartbeat = "/v1/heartbeat"
	// PathFleet lists devices and their problems (GET, admin or facility).
	PathFleet = "/v1/fleet"
	// PathExport answers the visits of one facility in a time window (GET,
	// health authority only; every call is written to the audit log).
	PathExport = "/v1/export"
	// PathAudit answers the append-only audit log of exports (GET, authority or admin).
	PathAudit = "/v1/audit"
)

// FacilityPath returns the path of one facility's resource: FacilityPath("F-1",
// "devices") is "/v1/facilities/F-1/devices".
func FacilityPath(facility string, parts ...string) string {
	p := PathFacilities + "/" + facility
	for _, s := range parts {
		p += "/" + s
	}
	return p
}

// MaxBatch is the largest number of scans central accepts in one batch.
const MaxBatch = 500

// MaxBatchBytes bounds a batch request body (after gzip decoding).
const MaxBatchBytes = 4 << 20

// Scan is one scan record as sent by a device, and the one definition of a
// scan's fields: the device's queue record and central's stored scan embed
// it and add only their own.
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
	// Token is the opaque QR text; empty for a paper-ledger visit (and in
	// the device's stored record, which keeps it sealed apart).
	Token string `json:"token,omitempty"`
	// Verdict is the verdict given at the door: "verified" or "pending".
	Verdict string `json:"verdict"`
	// Kind is empty for a visitor's scan, or KindPaper for a paper-ledger
	// visit (no token, no verdict).
	Kind string `json:"kind,omitempty"`
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
	// Repeat is set when the same token was already stored at this
	// facility by another device: one visit seen at two entrances, counted
	// once for the facility.
	Repeat bool `json:"repeat,omitempty"`
	// TimeFromToken is set when central stored the scan at its token's
	// signed issued-at instead of its corrected time: a pending scan whose
	// claimed time the token contradicts (an untrusted device clock).
	TimeFromToken bool `json:"time_from_token,omitempty"`
	// Verdict is central's verdict on a stored scan when it differs from
	// the door's: a "pending" scan judged here becomes "verified" or
	// "invalid" (both are acknowledged; the device may delete the scan).
	Verdict string `json:"verdict,omitempty"`
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
	// Paper[h] is the number of paper-ledger visits from h:00 to h:59 KST,
	// a series of its own beside Hours.
	Paper [24]int `json:"paper,omitzero"`
	// PaperTotal is the sum of Paper.
	PaperTotal int `json:"paper_total,omitzero"`
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

// BusinessType is one kind of facility a business registers as.
type BusinessType struct {
	// Code is the stable identifier sent in a Registration.
	Code string `json:"code"`
	// Name is the Korean name; English is an English gloss.
	Name    string `json:"name"`
	English string `json:"english"`
	// HighRisk marks the ministry's high-risk categories (2020), where the
	// electronic register is mandatory.
	HighRisk bool `json:"high_risk"`
}

// Registration is the body of POST /v1/facilities.
type Registration struct {
	// BusinessNumber is the 10-digit business registration number
	// (사업자등록번호), with or without dashes; empty registrations are held
	// until an operator approves them.
	BusinessNumber string `json:"business_number"`
	// Name, Representative, Phone and Address describe the facility.
	// Branches sharing a business number are told apart by Address.
	Name           string `json:"name"`
	Representative string `json:"representative"`
	Phone          string `json:"phone"`
	Address        string `json:"address"`
	// BusinessType is a BusinessType code.
	BusinessType string `json:"business_type"`
}

// Facility statuses.
const (
	// FacilityActive facilities may enroll devices and send scans.
	FacilityActive = "active"
	// FacilityHeld facilities registered without a business number wait
	// for an operator's approval.
	FacilityHeld = "held"
	// FacilityDisputed branches were disputed by the manager of an earlier
	// facility under the same business number; they are held until an
	// operator decides (POST /v1/facilities/{id}/decide).
	FacilityDisputed = "disputed"
	// FacilityRemoved branches were removed by an operator's decision:
	// their credentials no longer work.
	FacilityRemoved = "removed"
)

// Facility is a registered facility (one branch).
type Facility struct {
	ID             string    `json:"id"`
	BusinessNumber string    `json:"business_number"`
	Name           string    `json:"name"`
	Representative string    `json:"representative"`
	Phone          string    `json:"phone"`
	Address        string    `json:"address"`
	BusinessType   string    `json:"business_type"`
	HighRisk       bool      `json:"high_risk"`
	Status         string    `json:"status"`
	CreatedAt      time.Time `json:"created_at"`
}

// Registered is the answer to POST /v1/facilities. The manager credential
// is shown once: central keeps only its hash.
type Registered struct {
	Facility          Facility `json:"facility"`
	ManagerCredential string   `json:"manager_credential"`
}

// Facilities is the answer to GET /v1/facilities.
type Facilities struct {
	Facilities []Facility `json:"facilities"`
}

// DisputeRequest is the body of POST /v1/facilities/{id}/dispute: the
// manager of an earlier facility under the same business number says the
// branch {id} is not theirs.
type DisputeRequest struct {
	// Reason is an optional note for the operator (at most 200 characters).
	Reason string `json:"reason,omitempty"`
}

// Decision is the body of POST /v1/facilities/{id}/decide (operator) on a
// disputed or held branch.
type Decision struct {
	// Decision is "keep" (the branch becomes active) or "remove" (its
	// credentials stop working).
	Decision string `json:"decision"`
}

// The decisions.
const (
	DecisionKeep   = "keep"
	DecisionRemove = "remove"
)

// CodeRequest is the body of POST /v1/facilities/{id}/enrollment-codes.
type CodeRequest struct {
	// Entrance is the alias of the entrance the device will guard ("정문").
	Entrance string `json:"entrance"`
}

// EnrollmentCode is a one-time code a manager gives an installer.
type EnrollmentCode struct {
	Code      string    `json:"code"`
	Facility  string    `json:"facility"`
	Entrance  string    `json:"entrance"`
	ExpiresAt time.Time `json:"expires_at"`
}

// EnrollRequest is the body of POST /v1/enroll.
type EnrollRequest struct {
	// Code is the one-time enrollment code.
	Code string `json:"code"`
	// Name is an optional label for the device (its model, its place).
	Name string `json:"name,omitempty"`
}

// Enrollment is the answer to POST /v1/enroll: the device's identity and
// its credential, shown once (central keeps only its hash).
type Enrollment struct {
	Facility   string `json:"facility"`
	Device     string `json:"device"`
	Entrance   string `json:"entrance"`
	Credential string `json:"credential"`
}

// Rotation is the answer to POST /v1/credentials/rotate: the caller's new
// credential, shown once. Its first use revokes the old one.
type Rotation struct {
	Credential string    `json:"credential"`
	Role       string    `json:"role"`
	Facility   string    `json:"facility"`
	Subject    string    `json:"subject"`
	IssuedAt   time.Time `json:"issued_at"`
}

// EntranceRequest is the body of PATCH /v1/facilities/{id}/devices/{device}.
type EntranceRequest struct {
	Entrance string `json:"entrance"`
}

// StaffRequest is the body of POST /v1/facilities/{id}/staff.
type StaffRequest struct {
	Name string `json:"name"`
}

// Staff is a staff account of a facility. Credential is set only in the
// answer that creates it.
type Staff struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	CreatedAt  time.Time `json:"created_at"`
	Credential string    `json:"credential,omitempty"`
}

// StaffList is the answer to GET /v1/facilities/{id}/staff.
type StaffList struct {
	Staff []Staff `json:"staff"`
}

// Heartbeat is the body of POST /v1/heartbeat: a device's health.
type Heartbeat struct {
	// Facility and Device identify the sender; they must match its credential.
	Facility string `json:"facility"`
	Device   string `json:"device"`
	// DeviceTime is the device's raw clock when it sent the heartbeat.
	DeviceTime time.Time `json:"device_time"`
	// QueueDepth is the number of scans waiting on the device.
	QueueDepth int `json:"queue_depth"`
	// OldestUnsentSeconds is the age of the oldest waiting scan.
	OldestUnsentSeconds float64 `json:"oldest_unsent_s"`
	// ClockOffsetMillis is the offset the device learned to central's clock
	// (central − device).
	ClockOffsetMillis int64 `json:"clock_offset_ms"`
	// Camera is the camera's state: "ok" or "starting" when healthy;
	// "failing", "no_frames", "ended", ... otherwise.
	Camera string `json:"camera"`
	// Scanner is the scan engine's state on a device whose codes come from
	// one (a PDA, a serial or keyboard-wedge scanner): "open" or "starting"
	// when healthy;
	// "reopening", "disconnected" or "ended" otherwise. Empty on camera
	// devices, whose Camera says how they are.
	Scanner string `json:"scanner,omitempty"`
	// Version is the agent's version.
	Version string `json:"version"`
	// Ledger lists the device's paper-ledger sheets: the open ones and
	// those shredded in the last 4 weeks (nil: none reported).
	Ledger []Sheet `json:"ledger,omitempty"`
}

// HeartbeatAck is the answer to POST /v1/heartbeat.
type HeartbeatAck struct {
	ServerTime time.Time `json:"server_time"`
}

// Device problems listed by the fleet view.
const (
	ProblemNeverSeen   = "never_seen"   // enrolled, no heartbeat yet
	ProblemStale       = "stale"        // no heartbeat for longer than the stale limit
	ProblemOffline     = "offline"      // no heartbeat for longer than the offline limit
	ProblemClockSkewed = "clock_skewed" // device clock off central's by more than the skew limit
	ProblemCamera      = "camera"       // camera not "ok"
	ProblemScanner     = "scanner"      // scan engine not "open"
	ProblemBacklog     = "backlog"      // oldest unsent scan older than the backlog limit
)

// Device is one device in a facility's device list and the fleet view.
type Device struct {
	Facility   string    `json:"facility"`
	ID         string    `json:"id"`
	Name       string    `json:"name,omitempty"`
	Entrance   string    `json:"entrance"`
	Enrolled   bool      `json:"enrolled"`
	EnrolledAt time.Time `json:"enrolled_at,omitzero"`
	// LastSeen is when central received the last heartbeat (zero: never).
	LastSeen time.Time `json:"last_seen,omitzero"`
	// The last heartbeat's report.
	QueueDepth          int     `json:"queue_depth"`
	OldestUnsentSeconds float64 `json:"oldest_unsent_s"`
	ClockOffsetMillis   int64   `json:"clock_offset_ms"`
	Camera              string  `json:"camera,omitempty"`
	Scanner             string  `json:"scanner,omitempty"`
	Version             string  `json:"version,omitempty"`
	// ClockSkewMillis is the device's raw clock minus central's, measured
	// at the last heartbeat.
	ClockSkewMillis int64 `json:"clock_skew_ms"`
	// Problems lists what is wrong (Problem* constants); empty when healthy.
	Problems []string `json:"problems"`
}

// Fleet is the answer to GET /v1/fleet and GET /v1/facilities/{id}/devices.
type Fleet struct {
	ServerTime time.Time `json:"server_time"`
	Devices    []Device  `json:"devices"`
	// Ledgers is the paper-ledger shredding record of each facility whose
	// devices reported sheets.
	Ledgers []LedgerCompliance `json:"ledgers,omitempty"`
}

// DayCount is the number of visits on one KST day.
type DayCount struct {
	Date  string `json:"date"`
	Total int    `json:"total"`
	// Paper is the day's paper-ledger visits, not among Total.
	Paper int `json:"paper,omitzero"`
}

// CountSeries is the last two weeks by day and today by hour.
type CountSeries struct {
	// Days are the 14 days up to and including today, oldest first.
	Days []DayCount `json:"days"`
	// Today is today's count by hour (KST).
	Today Counts `json:"today"`
}

// DeviceCounts are the counts of one device.
type DeviceCounts struct {
	Device   string `json:"device"`
	Entrance string `json:"entrance"`
	CountSeries
}

// Stats is the answer to GET /v1/facilities/{id}/stats: hourly counts for
// the facility and for each device. Counts only, never a list of visits.
type Stats struct {
	Facility string `json:"facility"`
	CountSeries
	Devices []DeviceCounts `json:"devices"`
}

// Visit is one exported record: facility, device, time and the opaque token.
type Visit struct {
	Device        string    `json:"device"`
	Entrance      string    `json:"entrance,omitempty"`
	CorrectedTime time.Time `json:"corrected_time"`
	DeviceTime    time.Time `json:"device_time"`
	Token         string    `json:"token"`
	Verdict       string    `json:"verdict"`
	Copy          bool      `json:"copy,omitempty"`
	// Repeat marks the same visit seen again at another entrance.
	Repeat bool `json:"repeat,omitempty"`
	// TimeFromToken marks a visit timed by its token's issued-at (the
	// device's clock was not trusted and contradicted the token).
	TimeFromToken bool `json:"time_from_token,omitempty"`
}

// Export is the answer to GET /v1/export.
type Export struct {
	Facility string    `json:"facility"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	// AuditSeq is the audit log entry that records this export.
	AuditSeq int64   `json:"audit_seq"`
	Visits   []Visit `json:"visits"`
}

// AuditEntry is one line of the append-only audit log: who asked for
// which facility's visits, when, over which window, and why.
type AuditEntry struct {
	Seq       int64     `json:"seq"`
	At        time.Time `json:"at"`
	Authority string    `json:"authority"`
	Facility  string    `json:"facility"`
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	Purpose   string    `json:"purpose"`
	Records   int       `json:"records"`
}

// Audit is the answer to GET /v1/audit.
type Audit struct {
	Entries []AuditEntry `json:"entries"`
}

// Timed is an answer that carries central's clock at the moment it
// answered; the agent learns its offset to central from every one.
type Timed interface {
	// CentralTime returns central's clock, zero when the answer has none.
	CentralTime() time.Time
}

// CentralTime returns central's clock when it answered.
func (r BatchResult) CentralTime() time.Time { return r.ServerTime }

// CentralTime returns central's clock.
func (t Time) CentralTime() time.Time { return t.Now }

// CentralTime returns central's clock when it answered.
func (a HeartbeatAck) CentralTime() time.Time { return a.ServerTime }
