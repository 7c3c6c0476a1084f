package api

import "time"

// KindPaper is the Kind of a Scan that records one visitor who signed the
// paper ledger (수기명부) beside the scanner instead of showing a QR code.
// It has no token and no verdict; its id is a random idempotency key made
// at the door. Central counts paper visits as their own hourly series and
// never exports them (they name no one).
const KindPaper = "paper"

// PaperIDPrefix starts the id of every paper visit: "paper-" and 32 lower-case hex digits.
const PaperIDPrefix = "paper-"

// Sheet is one sheet of a device's paper ledger as the device reports it
// in its Heartbeat: dates and counts only, never what is written on it.
type Sheet struct {
	// Date is the day the sheet was started, YYYY-MM-DD (KST).
	Date string `json:"date"`
	// Entries counts the paper visits recorded while it was the current sheet.
	Entries int `json:"entries"`
	// LastEntry is the time of its last recorded paper visit (zero: none).
	LastEntry time.Time `json:"last_entry,omitzero"`
	// DestroyBy is the day it must be shredded: 4 weeks after its last
	// entry (after Date when it has none), YYYY-MM-DD.
	DestroyBy string `json:"destroy_by"`
	// ShreddedAt is when the manager confirmed it was shredded (zero: not yet).
	ShreddedAt time.Time `json:"shredded_at,omitzero"`
}

// Open reports whether the sheet still exists on paper (not confirmed shredded).
func (s Sheet) Open() bool { return s.ShreddedAt.IsZero() }

// Due reports whether an open sheet must be shredded on the KST day
// holding now: from DestroyBy on.
func (s Sheet) Due(now time.Time) bool {
	return s.Open() && now.In(KST).Format("2006-01-02") >= s.DestroyBy
}

// LedgerCompliance is one facility's paper-ledger shredding record in the
// fleet view.
type LedgerCompliance struct {
	Facility string `json:"facility"`
	// Open counts the sheets not yet shredded.
	Open int `json:"open"`
	// Overdue counts the open sheets past their destroy date.
	Overdue int `json:"overdue"`
	// OldestOverdue is the earliest destroy date among the overdue sheets.
	OldestOverdue string `json:"oldest_overdue,omitempty"`
	// Shredded counts the sheets confirmed shredded; ShreddedLate those
	// confirmed after their destroy date.
	Shredded     int `json:"shredded"`
	ShreddedLate int `json:"shredded_late"`
	// Compliant is true when no sheet is overdue.
	Compliant bool `json:"compliant"`
}
