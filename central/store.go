package central

import (
	"context"
	"time"

	"github.com/kipass/kipass/central/api"
)

// Store is central's storage. Two implementations exist: an embedded bbolt
// file (OpenBolt, the default: nothing to install) and PostgreSQL with
// daily partitions (package central/pg). Each method is one transaction:
// it takes effect whole or not at all. Errors wrap ErrNotFound,
// ErrConflict, ErrCodeUsed or ErrCodeExpired when the request is at fault;
// any other error is a retryable storage failure.
//
// Scans are kept by the KST day of their corrected time; Purge destroys
// whole days, like dropping a partition.
type Store interface {
	// CreateFacility registers a facility and its manager credential, and
	// queues the notices in the outbox, in one transaction. ErrConflict
	// when a branch with the same business number and address exists.
	CreateFacility(ctx context.Context, f api.Facility, manager Credential, notices ...Notice) error
	// FacilitiesByNumber lists the facilities registered under a business
	// number, oldest first.
	FacilitiesByNumber(ctx context.Context, number string) ([]api.Facility, error)
	// Notices lists up to limit notices of the outbox, oldest first; only
	// the unsent ones when unsent is true.
	Notices(ctx context.Context, unsent bool, limit int) ([]Notice, error)
	// UpdateNotice stores a notice's delivery state (SentAt, Attempts,
	// LastError) by its ID.
	UpdateNotice(ctx context.Context, n Notice) error
	// Facility returns one facility.
	Facility(ctx context.Context, id string) (api.Facility, error)
	// Facilities lists facilities with the given status ("" for all).
	Facilities(ctx context.Context, status string) ([]api.Facility, error)
	// SetFacilityStatus changes a facility's status (approval).
	SetFacilityStatus(ctx context.Context, id, status string) error

	// AddCredential stores a credential (by its hash).
	AddCredential(ctx context.Context, c Credential) error
	// Credential looks a credential up by the hash of its secret.
	Credential(ctx context.Context, hash string) (Credential, error)
	// Credentials lists a facility's active credentials of one role.
	Credentials(ctx context.Context, facility string, role Role) ([]Credential, error)
	// RevokeCredential revokes the active credentials of a facility's
	// subject (a staff account) at once.
	RevokeCredential(ctx context.Context, facility, subject string, at time.Time) error
	// RotateCredential adds c, a pending credential of the same subject
	// as the caller's, and revokes the subject's earlier pending ones (a
	// rotation never used), in one transaction.
	RotateCredential(ctx context.Context, c Credential, at time.Time) error
	// ConfirmCredential marks the pending credential hash in use and
	// revokes every other credential of its subject, in one transaction.
	// ErrNotFound when hash is not an active credential.
	ConfirmCredential(ctx context.Context, hash string, at time.Time) error

	// AddCode stores a one-time enrollment code (by its hash).
	AddCode(ctx context.Context, c Code) error
	// Enroll consumes a code and creates the device and its credential in
	// one transaction. ErrNotFound, ErrCodeUsed or ErrCodeExpired otherwise.
	Enroll(ctx context.Context, codeHash string, d api.Device, c Credential, now time.Time) (Code, error)
	// Devices lists the devices of a facility ("" for every facility),
	// with their last heartbeat.
	Devices(ctx context.Context, facility string) ([]api.Device, error)
	// SetEntrance changes a device's entrance alias.
	SetEntrance(ctx context.Context, facility, device, entrance string) error
	// RemoveDevice deletes a device and revokes its credential at once.
	RemoveDevice(ctx context.Context, facility, device string, at time.Time) error
	// PutHeartbeat records a device's last heartbeat (creating an
	// unenrolled device row for unauthenticated development devices).
	PutHeartbeat(ctx context.Context, d api.Device) error

	// Ingest stores new scans and skips known ones (by id within the
	// scan's day), all in one transaction. Per scan, it reports whether it
	// was a duplicate, whether the token was seen at another facility
	// (copy) and whether it was seen at this facility by another device
	// (repeat), looking at every day in [SeenFrom, SeenTo].
	Ingest(ctx context.Context, scans []Scan) ([]Ingested, error)
	// HourCounts counts scans of a facility per device and hour in [from, to).
	HourCounts(ctx context.Context, facility string, from, to time.Time) ([]HourCount, error)
	// Export returns the scans of a facility in [from, to), oldest first.
	Export(ctx context.Context, facility string, from, to time.Time) ([]Scan, error)
	// Purge destroys every day of scans that ended at or before cutoff,
	// and the given verdicts given before cutoff, and returns how many
	// scans it destroyed.
	Purge(ctx context.Context, cutoff time.Time) (int, error)
	// ScanCount returns how many scans are stored.
	ScanCount(ctx context.Context) (int, error)

	// Scan returns a stored scan by id (the newest day's, should a scan id
	// be stored on two days).
	Scan(ctx context.Context, id string) (Scan, error)
	// GiveVerdicts stores verdicts an issuer gave later for opaque tokens,
	// by token fingerprint; a later verdict replaces an earlier one.
	GiveVerdicts(ctx context.Context, vs []GivenVerdict) error
	// GivenVerdict returns the verdict given for a token fingerprint;
	// ErrNotFound when there is none.
	GivenVerdict(ctx context.Context, fingerprint string) (GivenVerdict, error)

	// AppendAudit appends an entry to the audit log and returns it with its
	// sequence number. There is no way to change or delete an entry.
	AppendAudit(ctx context.Context, e api.AuditEntry) (api.AuditEntry, error)
	// Audit returns the audit log, oldest first.
	Audit(ctx context.Context) ([]api.AuditEntry, error)

	// LedgerStore keeps paper visits and ledger sheets (paper.go).
	LedgerStore

	// Close releases the store.
	Close() error
}

// Role is what a credential may do.
type Role string

// The roles. Operators (admins), the health authority and issuers are
// configured in Options, not stored.
const (
	// RoleManager manages one facility: codes, devices, staff, counts.
	RoleManager Role = "manager"
	// RoleStaff reads one facility's counts and devices.
	RoleStaff Role = "staff"
	// RoleDevice sends scans and heartbeats for one device.
	RoleDevice Role = "device"
	// RoleAdmin is central's operator: approves held facilities, sees the fleet.
	RoleAdmin Role = "admin"
	// RoleAuthority is the health authority: the only role that exports visits.
	RoleAuthority Role = "authority"
	// RoleIssuer is a QR issuer giving later verdicts on its opaque tokens.
	RoleIssuer Role = "issuer"
)

// Credential is a stored credential: the SHA-256 of its secret, never the
// secret itself.
type Credential struct {
	// Hash is hex(SHA-256(secret)).
	Hash string `json:"hash"`
	// Role, Facility and Subject say who it is: Subject is the device id,
	// the staff id, or "manager".
	Role     Role   `json:"role"`
	Facility string `json:"facility"`
	Subject  string `json:"subject"`
	// Name labels staff accounts.
	Name      string    `json:"name,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// RevokedAt is set once the credential stops working.
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	// Pending marks a credential issued by rotation and not used yet: its
	// first use revokes the subject's other credentials.
	Pending bool `json:"pending,omitempty"`
}

// Code is a stored one-time enrollment code: the hash of the code, never
// the code itself.
type Code struct {
	Hash      string    `json:"hash"`
	Facility  string    `json:"facility"`
	Entrance  string    `json:"entrance"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// UsedAt and Device are set when the code is traded.
	UsedAt time.Time `json:"used_at,omitzero"`
	Device string    `json:"device,omitempty"`
}

// Scan is what central keeps of a scan: facility, device, time and the
// opaque token, nothing else.
type Scan struct {
	// Scan is the scan as the device sent it, with central's verdict.
	api.Scan
	// Fingerprint is token.Fingerprint(Token), to spot copies.
	Fingerprint string    `json:"fingerprint"`
	ReceivedAt  time.Time `json:"received_at"`
	Copy        bool      `json:"copy,omitempty"`
	// Repeat is set when the same token was already stored at this
	// facility by another device: the same visit seen at a second
	// entrance. It counts for its device, not again for the facility.
	Repeat bool `json:"repeat,omitempty"`
	// TimeFromToken is set when CorrectedTime is the signed token's
	// issued-at, not the device's claim: a pending scan judged on an
	// untrusted clock whose claimed time the token contradicts.
	TimeFromToken bool `json:"time_from_token,omitempty"`
	// SeenFrom and SeenTo bound the times at which any scan of this token
	// can be stored; the copy and repeat checks look at every KST day they
	// span. Not stored.
	SeenFrom time.Time `json:"-"`
	SeenTo   time.Time `json:"-"`
}

// Notice is a message in central's outbox: the notice to a facility's
// representative that a branch was registered under its business number.
type Notice struct {
	// ID orders the outbox.
	ID string `json:"id"`
	// Facility is the facility whose representative is told; Branch the
	// newly registered one.
	Facility string `json:"facility"`
	Branch   string `json:"branch"`
	// Phone and Representative address the message.
	Phone          string `json:"phone"`
	Representative string `json:"representative"`
	// Text is the message.
	Text      string    `json:"text"`
	CreatedAt time.Time `json:"created_at"`
	// SentAt is set once a sender took the notice.
	SentAt    time.Time `json:"sent_at,omitzero"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error,omitempty"`
}

// GivenVerdict is an issuer's later verdict on an opaque token.
type GivenVerdict struct {
	// Fingerprint is token.Fingerprint of the token: central keeps no
	// second copy of the token text for it.
	Fingerprint string    `json:"fingerprint"`
	Verdict     string    `json:"verdict"`
	Reason      string    `json:"reason,omitempty"`
	At          time.Time `json:"at"`
}

// Ingested is the store's answer for one scan.
type Ingested struct {
	// Duplicate is set when the scan id was already stored.
	Duplicate bool
	// Copy is set when the token was seen at another facility.
	Copy bool
	// Repeat is set when the token was seen at this facility by another
	// device.
	Repeat bool
}

// HourCount is the number of scans of one device in one hour.
type HourCount struct {
	Device string
	Hour   time.Time
	// N counts the device's scans, repeats included: each is a passage
	// through its entrance.
	N int
	// Repeats counts those of N that were repeats (Scan.Repeat): the
	// facility's visits are N − Repeats.
	Repeats int
}

// Day returns the KST day holding t, as its midnight.
func Day(t time.Time) time.Time {
	t = t.In(api.KST)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, api.KST)
}
