package central

import "errors"

// Sentinel errors of central and its stores. Store errors other than these
// are retryable (the database is unreachable or failing); these are
// permanent for the request in hand.
var (
	// ErrBadRequest marks input that will never be accepted (permanent).
	ErrBadRequest = errors.New("bad request")
	// ErrBusinessNumber marks a business registration number that is not
	// ten digits with a correct check digit (permanent).
	ErrBusinessNumber = errors.New("bad business registration number")
	// ErrNotFound means the facility, device, staff account, credential or
	// code does not exist (permanent).
	ErrNotFound = errors.New("not found")
	// ErrConflict means the record already exists, such as a branch with the
	// same business number and address (permanent).
	ErrConflict = errors.New("already exists")
	// ErrCodeUsed means an enrollment code was already traded (permanent:
	// a replayed code).
	ErrCodeUsed = errors.New("enrollment code already used")
	// ErrCodeExpired means an enrollment code is past its validity (permanent).
	ErrCodeExpired = errors.New("enrollment code expired")
	// ErrLocked means the embedded store's file is locked by another
	// process, most likely another kipass-central on the same --data.
	ErrLocked = errors.New("the data file is locked")
	// ErrAppendOnly means something tried to change the audit log (permanent).
	ErrAppendOnly = errors.New("audit log is append-only")
)
