package central

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"time"

	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/token"
)

func (s *Server) handleScans(w http.ResponseWriter, r *http.Request, p principal) {
	if p.role != "" && p.role != RoleDevice {
		writeError(w, http.StatusForbidden, "forbidden", "only devices send scans")
		return
	}
	if p.role == RoleDevice && throttled(w, s.limIngest, p.facility+"/"+p.subject) {
		return
	}
	var body io.Reader = http.MaxBytesReader(w, r.Body, api.MaxBatchBytes)
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(body)
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad_gzip", "request body is not gzip")
			return
		}
		defer zr.Close()
		body = io.LimitReader(zr, api.MaxBatchBytes+1)
	}
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	var b api.ScanBatch
	if err := dec.Decode(&b); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) || errors.Is(err, io.ErrUnexpectedEOF) && r.Header.Get("Content-Encoding") == "gzip" {
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", "batch body too large")
			return
		}
		writeError(w, http.StatusBadRequest, "bad_json", "batch is not valid JSON: "+err.Error())
		return
	}
	if len(b.Scans) > api.MaxBatch {
		writeError(w, http.StatusRequestEntityTooLarge, "batch_too_large",
			fmt.Sprintf("batch has %d scans, at most %d", len(b.Scans), api.MaxBatch))
		return
	}
	if p.role == RoleDevice {
		for _, sc := range b.Scans {
			if sc.Facility != p.facility || sc.Device != p.subject {
				writeError(w, http.StatusForbidden, "device_mismatch",
					"the batch holds scans of another facility or device than the credential's; fix the agent's facility and device")
				return
			}
		}
	}
	now := s.opts.Clock.Now()
	results := make([]api.ItemResult, len(b.Scans))
	var items []Scan
	var at []int
	var paper []PaperVisit
	var paperAt []int
	for i, sc := range b.Scans {
		results[i].ID = sc.ID
		if sc.Kind == api.KindPaper {
			if reason := s.checkPaper(sc, now); reason != "" {
				results[i].Status, results[i].Reason = api.Rejected, reason
				continue
			}
			paper = append(paper, PaperVisit{ID: sc.ID, Facility: sc.Facility, Device: sc.Device, CorrectedTime: sc.CorrectedTime, ReceivedAt: now})
			paperAt = append(paperAt, i)
			continue
		}
		if reason := s.check(sc, now); reason != "" {
			results[i].Status, results[i].Reason = api.Rejected, reason
			continue
		}
		verdict := s.verdict(r, sc)
		if verdict != sc.Verdict {
			results[i].Verdict = verdict
		}
		sc.Verdict = verdict
		item := Scan{Scan: sc, Fingerprint: token.Fingerprint(sc.Token), ReceivedAt: now}
		s.place(&item, now)
		if item.CorrectedTime.Before(now.Add(-s.opts.Retention)) {
			results[i].Status, results[i].Reason, results[i].Verdict = api.Rejected, "too_old", ""
			continue
		}
		results[i].TimeFromToken = item.TimeFromToken
		items = append(items, item)
		at = append(at, i)
	}
	res, err := s.st.Ingest(r.Context(), items)
	if err != nil {
		s.storeFailed(w, "store the batch", err)
		return
	}
	for j, i := range at {
		results[i].Status = api.Accepted
		if res[j].Duplicate {
			results[i].Status, results[i].Verdict = api.Duplicate, ""
		}
		results[i].Copy, results[i].Repeat = res[j].Copy, res[j].Repeat
	}
	if len(paper) > 0 {
		dup, err := s.st.IngestPaper(r.Context(), paper)
		if err != nil {
			s.storeFailed(w, "store the paper visits", err)
			return
		}
		for j, i := range paperAt {
			results[i].Status = api.Accepted
			if dup[j] {
				results[i].Status = api.Duplicate
			}
		}
	}
	s.opts.Log.Info("batch ingested", "scans", len(b.Scans), "stored", len(items))
	writeJSON(w, http.StatusOK, api.BatchResult{Results: results, ServerTime: now})
}

// check returns a rejection reason for a scan that can never be accepted,
// or "" for a good one.
func (s *Server) check(sc api.Scan, now time.Time) string {
	switch {
	case sc.ID == "" || len(sc.ID) > 64:
		return "bad_id"
	case checkText(sc.Facility, 64, false) != "":
		return "bad_facility"
	case checkText(sc.Device, 64, false) != "":
		return "bad_device"
	case sc.Token == "" || len(sc.Token) > 512 || checkText(sc.Token, 512, false) != "":
		return "bad_token"
	case sc.Kind != "":
		return "bad_kind"
	case isControlCode(sc.Token):
		return "control_code" // a ledger control code is never a visitor token
	case sc.CorrectedTime.IsZero() || sc.CorrectedTime.After(now.Add(24*time.Hour)):
		return "bad_time"
	case sc.CorrectedTime.Before(now.Add(-s.opts.Retention)):
		return "too_old"
	case sc.Verdict != string(token.Verified) && sc.Verdict != string(token.Pending):
		return "bad_verdict"
	case sc.ID != token.ScanID(sc.Device, sc.Token):
		return "bad_id"
	}
	if sc.Verdict == string(token.Verified) {
		// Check the signature against the key set, at the token's own
		// issue time: a scan may arrive days after it was made.
		c, err := token.Parse(sc.Token)
		if err != nil {
			return "bad_token"
		}
		if _, err := (token.Verifier{Keys: s.opts.Keys}).Verify(sc.Token, c.IssuedAt); err != nil {
			return "token_" + token.Reason(err)
		}
		// A door verifies a token at its corrected time: a verified scan
		// whose time the signed issued-at contradicts never happened.
		if !s.inWindow(c, sc.CorrectedTime) {
			return ReasonTimeMismatch
		}
	}
	return ""
}

// ReasonTimeMismatch rejects a verified scan whose corrected time lies
// outside its token's validity widened by Options.TimeTolerance.
const ReasonTimeMismatch = "time_mismatch"

// DefaultTimeTolerance widens a token's validity when central checks a
// verified scan's corrected time: a device's skew allowance (clock_skew,
// 2 s by default; up to 10 s supported) plus its clock's uncertainty (half
// the round trip of its last sample, at most 1 s, plus the drift of a
// persisted offset and the 5 s alarm tolerance, bounded by 19 s).
const DefaultTimeTolerance = 30 * time.Second

// window is the span in which a door may have seen a token: its validity
// widened by the tolerance on both sides.
func (s *Server) window(c token.Claims) (from, to time.Time) {
	return c.IssuedAt.Add(-s.opts.TimeTolerance), c.Expires().Add(s.opts.TimeTolerance)
}

func (s *Server) inWindow(c token.Claims, t time.Time) bool {
	from, to := s.window(c)
	return !t.Before(from) && !t.After(to)
}

// place sets where a good scan is stored and which days its copy check
// covers. A KP1 token's scans all lie in its window (a verified scan
// outside it was rejected); a pending one whose claimed time the signed
// issued-at contradicts (judged on an untrusted clock) is stored at the
// issued-at, flagged TimeFromToken. An opaque token's lifetime is unknown:
// every day a scan may be kept is looked at.
func (s *Server) place(sc *Scan, now time.Time) {
	c, err := token.Parse(sc.Token)
	if err != nil {
		sc.SeenFrom, sc.SeenTo = now.Add(-s.opts.Retention-24*time.Hour), now.Add(24*time.Hour)
		return
	}
	sc.SeenFrom, sc.SeenTo = s.window(c)
	if sc.Verdict == string(token.Verified) && !s.inWindow(c, sc.CorrectedTime) {
		sc.CorrectedTime, sc.TimeFromToken = c.IssuedAt, true
	}
	// A scan stored with its claimed time (an invalid token) is looked
	// for on that day too.
	if sc.CorrectedTime.Before(sc.SeenFrom) {
		sc.SeenFrom = sc.CorrectedTime
	}
	if sc.CorrectedTime.After(sc.SeenTo) {
		sc.SeenTo = sc.CorrectedTime
	}
}

// verdict is central's verdict on a good scan. A pending KP1 token is
// checked by signature; a pending opaque token takes the verdict its issuer
// gave already, or goes to Options.Opaque.
// Pending scans are stored whatever their verdict: the visit happened, and
// the verdict travels with it to the authority.
func (s *Server) verdict(r *http.Request, sc api.Scan) string {
	if sc.Verdict != string(token.Pending) {
		return sc.Verdict
	}
	if c, err := token.Parse(sc.Token); err == nil {
		if _, err := (token.Verifier{Keys: s.opts.Keys}).Verify(sc.Token, c.IssuedAt); err != nil {
			return string(token.Invalid)
		}
		return string(token.Verified)
	}
	if g, err := s.st.GivenVerdict(r.Context(), token.Fingerprint(sc.Token)); err == nil {
		return g.Verdict // the issuer gave it already
	}
	if s.opts.Opaque == nil {
		return sc.Verdict
	}
	v, err := s.opts.Opaque.Check(r.Context(), sc.Token, sc.CorrectedTime)
	switch {
	case v == token.Verified || v == token.Invalid || v == token.Expired:
		return string(v)
	case err != nil:
		s.opts.Log.Warn("opaque verdict failed; scan stays pending", "reason", token.Reason(err))
	}
	return sc.Verdict
}

func (s *Server) handleHeartbeat(w http.ResponseWriter, r *http.Request, p principal) {
	if p.role != "" && p.role != RoleDevice {
		writeError(w, http.StatusForbidden, "forbidden", "only devices send heartbeats")
		return
	}
	var hb api.Heartbeat
	if !decodeBody(w, r, &hb) {
		return
	}
	if p.role == RoleDevice {
		if hb.Facility == "" && hb.Device == "" {
			hb.Facility, hb.Device = p.facility, p.subject
		}
		if hb.Facility != p.facility || hb.Device != p.subject {
			writeError(w, http.StatusForbidden, "device_mismatch", "the heartbeat names another facility or device than the credential's")
			return
		}
	}
	switch {
	case checkText(hb.Facility, 64, false) != "":
		badField(w, "facility", "missing, too long or not text")
		return
	case checkText(hb.Device, 64, false) != "":
		badField(w, "device", "missing, too long or not text")
		return
	case checkText(hb.Camera, 32, true) != "":
		badField(w, "camera", "too long or not text")
		return
	case checkText(hb.Scanner, 32, true) != "":
		badField(w, "scanner", "too long or not text")
		return
	case checkText(hb.Version, 64, true) != "":
		badField(w, "version", "too long or not text")
		return
	case hb.QueueDepth < 0 || hb.OldestUnsentSeconds < 0 || math.IsNaN(hb.OldestUnsentSeconds) || math.IsInf(hb.OldestUnsentSeconds, 0):
		writeError(w, http.StatusBadRequest, "bad_queue", "queue_depth and oldest_unsent_s must be non-negative numbers")
		return
	}
	now := s.opts.Clock.Now()
	d := api.Device{Facility: hb.Facility, ID: hb.Device, LastSeen: now, QueueDepth: hb.QueueDepth,
		OldestUnsentSeconds: hb.OldestUnsentSeconds, ClockOffsetMillis: hb.ClockOffsetMillis,
		Camera: hb.Camera, Scanner: hb.Scanner, Version: hb.Version}
	if !hb.DeviceTime.IsZero() {
		d.ClockSkewMillis = hb.DeviceTime.Sub(now).Milliseconds()
	}
	if !s.putSheets(w, r, hb, now) { // first: a device seen has its sheets stored
		return
	}
	if err := s.st.PutHeartbeat(r.Context(), d); err != nil {
		s.storeFailed(w, "store the heartbeat", err)
		return
	}
	writeJSON(w, http.StatusOK, api.HeartbeatAck{ServerTime: now})
}
