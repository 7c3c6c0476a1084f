package central

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/token"
)

// VerifySkew is the clock-skew allowance central applies when it judges a
// token online: its own clock is the reference, so only the network's
// delay needs room.
const VerifySkew = 2 * time.Second

// routeVerify registers online verification and later verdicts.
func (s *Server) routeVerify() {
	s.mux.HandleFunc("POST "+api.PathVerify, s.device(s.handleVerify))
	s.mux.HandleFunc("POST "+api.PathVerdicts, s.issuer(s.handleGiveVerdicts))
	s.mux.HandleFunc("GET "+api.PathVerdicts, s.device(s.handleScanVerdict))
}

// issuer lets through issuers and admins, and nobody in particular when
// credentials are not required (development).
func (s *Server) issuer(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ae := s.authenticate(r)
		switch {
		case ae != nil:
			writeError(w, ae.code, ae.reason, ae.msg)
		case p.role == "" && s.opts.RequireCredentials:
			writeError(w, http.StatusUnauthorized, "missing_credential", "this endpoint needs an issuer credential")
		case p.role != "" && p.role != RoleIssuer && p.role != RoleAdmin:
			writeError(w, http.StatusForbidden, "forbidden", fmt.Sprintf("a %s credential may not do this", p.role))
		default:
			h(w, r, p)
		}
	}
}

// decodeStrict reads a bounded JSON body with unknown fields rejected. It
// writes the error answer itself and reports false on failure.
func decodeStrict(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, api.MaxVerifyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", "body too large")
			return false
		}
		writeError(w, http.StatusBadRequest, "bad_json", "body is not valid JSON: "+err.Error())
		return false
	}
	return true
}

// handleVerify judges a scanned text now: a KI-Pass token against the key
// set at central's clock, an opaque token by a verdict given earlier by its
// issuer or by the issuer's online check, or "pending" when there is none.
func (s *Server) handleVerify(w http.ResponseWriter, r *http.Request, p principal) {
	if p.role != "" && p.role != RoleDevice {
		writeError(w, http.StatusForbidden, "forbidden", "only devices verify scans")
		return
	}
	var req api.VerifyRequest
	if !decodeStrict(w, r, &req) {
		return
	}
	if req.Token == "" || len(req.Token) > 512 {
		writeError(w, http.StatusBadRequest, "bad_token", "token must have 1 to 512 bytes")
		return
	}
	if p.role == RoleDevice && (req.Facility != "" && req.Facility != p.facility || req.Device != "" && req.Device != p.subject) {
		writeError(w, http.StatusForbidden, "device_mismatch", "the request names another facility or device than the credential's")
		return
	}
	now := s.opts.Clock.Now()
	res := api.VerifyResult{ServerTime: now}
	if strings.HasPrefix(req.Token, "KP") {
		_, err := token.Verifier{Keys: s.opts.Keys, Skew: VerifySkew}.Verify(req.Token, now)
		res.Verdict, res.Reason = string(token.VerdictOf(err)), token.Reason(err)
	} else {
		g, err := s.st.GivenVerdict(r.Context(), token.Fingerprint(req.Token))
		switch {
		case err == nil:
			res.Verdict, res.Reason = g.Verdict, g.Reason
		case !errors.Is(err, ErrNotFound):
			s.storeFailed(w, "read verdicts", err)
			return
		case s.opts.Opaque != nil:
			v, verr := s.opts.Opaque.Check(r.Context(), req.Token, now)
			res.Verdict, res.Reason = string(v), token.Reason(verr)
			if v != token.Verified && v != token.Invalid && v != token.Expired {
				res.Verdict, res.Reason = string(token.Pending), "awaiting_issuer"
			}
		default:
			res.Verdict, res.Reason = string(token.Pending), "awaiting_issuer"
		}
	}
	s.opts.Log.Info("verify", "verdict", res.Verdict, "reason", res.Reason, "device", req.Device)
	writeJSON(w, http.StatusOK, res)
}

// handleGiveVerdicts stores verdicts that an issuer gives later for opaque
// tokens. A later verdict for the same token replaces the earlier one.
func (s *Server) handleGiveVerdicts(w http.ResponseWriter, r *http.Request, _ principal) {
	var req api.GivenVerdicts
	if !decodeStrict(w, r, &req) {
		return
	}
	if len(req.Verdicts) > api.MaxBatch {
		writeError(w, http.StatusRequestEntityTooLarge, "batch_too_large",
			fmt.Sprintf("%d verdicts, at most %d", len(req.Verdicts), api.MaxBatch))
		return
	}
	now := s.opts.Clock.Now()
	vs := make([]GivenVerdict, len(req.Verdicts))
	for i, v := range req.Verdicts {
		switch {
		case v.Token == "" || len(v.Token) > 512:
			writeError(w, http.StatusBadRequest, "bad_token", fmt.Sprintf("verdict %d: token must have 1 to 512 bytes", i))
			return
		case v.Verdict != string(token.Verified) && v.Verdict != string(token.Invalid) && v.Verdict != string(token.Expired):
			writeError(w, http.StatusBadRequest, "bad_verdict", fmt.Sprintf("verdict %d: must be verified, invalid or expired", i))
			return
		case len(v.Reason) > 64 || checkText(v.Reason, 64, true) != "":
			writeError(w, http.StatusBadRequest, "bad_reason", fmt.Sprintf("verdict %d: reason longer than 64 bytes or not text", i))
			return
		}
		vs[i] = GivenVerdict{Fingerprint: token.Fingerprint(v.Token), Verdict: v.Verdict, Reason: v.Reason, At: now}
	}
	if err := s.st.GiveVerdicts(r.Context(), vs); err != nil {
		s.storeFailed(w, "store the verdicts", err)
		return
	}
	writeJSON(w, http.StatusOK, api.VerdictsStored{Stored: len(vs)})
}

// handleScanVerdict answers the verdict of one stored scan; a pending scan
// takes the verdict given later for its token, when there is one. A device
// asks about its own scans only.
func (s *Server) handleScanVerdict(w http.ResponseWriter, r *http.Request, p principal) {
	id := r.URL.Query().Get("id")
	if id == "" || len(id) > 64 {
		writeError(w, http.StatusBadRequest, "bad_id", "query parameter id is required (a scan id)")
		return
	}
	if p.role != "" && p.role != RoleDevice && p.role != RoleAdmin {
		writeError(w, http.StatusForbidden, "forbidden", "only devices ask for their scans' verdicts")
		return
	}
	sc, err := s.st.Scan(r.Context(), id)
	switch {
	case errors.Is(err, ErrNotFound) || err == nil && p.role == RoleDevice && (sc.Device != p.subject || sc.Facility != p.facility):
		writeError(w, http.StatusNotFound, "unknown_scan", "no scan with this id")
		return
	case err != nil:
		s.storeFailed(w, "read the scan", err)
		return
	}
	ans := api.ScanVerdict{ID: id, Verdict: sc.Verdict, Copy: sc.Copy}
	if sc.Verdict == string(token.Pending) {
		g, err := s.st.GivenVerdict(r.Context(), sc.Fingerprint)
		switch {
		case err == nil:
			ans.Verdict, ans.Reason = g.Verdict, g.Reason
		case !errors.Is(err, ErrNotFound):
			s.storeFailed(w, "read verdicts", err)
			return
		}
	}
	writeJSON(w, http.StatusOK, ans)
}
