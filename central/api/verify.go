package api

import "time"

// Paths of online verification (docs/protocol.md, "Online verification").
const (
	// PathVerify judges one scanned text online (POST VerifyRequest,
	// answers VerifyResult).
	PathVerify = "/v1/verify"
	// PathVerdicts takes verdicts given later for opaque tokens (POST
	// GivenVerdicts, from an issuer) and answers the verdict of one stored
	// scan (GET ?id=SCANID, answers ScanVerdict).
	PathVerdicts = "/v1/verdicts"
)

// MaxVerifyBytes bounds a verify or verdicts request body.
const MaxVerifyBytes = 64 << 10

// VerifyRequest is the body of POST /v1/verify.
type VerifyRequest struct {
	// Token is the scanned text (a KI-Pass token or an opaque token).
	Token string `json:"token"`
	// Facility and Device say where it was scanned.
	Facility string `json:"facility"`
	Device   string `json:"device"`
}

// VerifyResult is the answer to POST /v1/verify.
type VerifyResult struct {
	// Verdict is "verified", "invalid", "expired" or "pending" (central
	// cannot tell yet; the device records the scan as pending).
	Verdict string `json:"verdict"`
	// Reason is a log-safe cause: a token rejection reason, or
	// "awaiting_issuer" for pending.
	Reason string `json:"reason,omitempty"`
	// ServerTime is central's clock when it answered.
	ServerTime time.Time `json:"server_time"`
}

// GivenVerdict is a verdict given later for an opaque token.
type GivenVerdict struct {
	// Token is the opaque token text.
	Token string `json:"token"`
	// Verdict is "verified", "invalid" or "expired".
	Verdict string `json:"verdict"`
	// Reason is an optional log-safe cause.
	Reason string `json:"reason,omitempty"`
}

// GivenVerdicts is the body of POST /v1/verdicts.
type GivenVerdicts struct {
	// Verdicts holds at most MaxBatch verdicts.
	Verdicts []GivenVerdict `json:"verdicts"`
}

// VerdictsStored is the answer to POST /v1/verdicts.
type VerdictsStored struct {
	// Stored is the number of verdicts stored.
	Stored int `json:"stored"`
}

// ScanVerdict is the answer to GET /v1/verdicts?id=SCANID: the verdict of a
// stored scan, with a pending scan resolved by a verdict given later.
type ScanVerdict struct {
	// ID is the scan id.
	ID string `json:"id"`
	// Verdict is the door's verdict, or the later one for a pending scan
	// ("pending" while none has been given).
	Verdict string `json:"verdict"`
	// Reason is the cause given with a later verdict.
	Reason string `json:"reason,omitempty"`
	// Copy is set when the token was already seen at another facility.
	Copy bool `json:"copy,omitempty"`
}

// CentralTime returns central's clock when it answered.
func (r VerifyResult) CentralTime() time.Time { return r.ServerTime }
