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
	bolt "go.etcd.io/bbolt"
)

// VerifySkew is the clock-skew allowance central applies when it judges a
// token online: its own clock is the reference, so only the network's
// delay needs room.
const VerifySkew = 2 * time.Second

// bucketVerdicts holds verdicts given later for opaque tokens:
// token fingerprint -> givenVerdict JSON.
var bucketVerdicts = []byte("verdicts")

type givenVerdict struct {
	Verdict string    `json:"verdict"`
	Reason  string    `json:"reason,omitempty"`
	At      time.Time `json:"at"`
}

// routeVerify registers online verification and later verdicts.
func (s *Server) routeVerify() {
	s.mux.HandleFunc("POST "+api.PathVerify, s.handleVerify)
	s.mux.HandleFunc("POST "+api.PathVerdicts, s.handleGiveVerdicts)
	s.mux.HandleFunc("GET "+api.PathVerdicts, s.handleScanVerdict)
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
// issuer, or "pending" when there is none yet.
func (s *Server) handleVerify(w http.ResponseWriter, r *http.Request) {
	var req api.VerifyRequest
	if !decodeStrict(w, r, &req) {
		return
	}
	if req.Token == "" || len(req.Token) > 512 {
		writeError(w, http.StatusBadRequest, "bad_token", "token must have 1 to 512 bytes")
		return
	}
	now := s.opts.Clock.Now()
	res := api.VerifyResult{ServerTime: now}
	if strings.HasPrefix(req.Token, "KP") {
		_, err := token.Verifier{Keys: s.opts.Keys, Skew: VerifySkew}.Verify(req.Token, now)
		res.Verdict, res.Reason = string(token.VerdictOf(err)), token.Reason(err)
	} else {
		g, ok, err := s.givenVerdict(token.Fingerprint(req.Token))
		switch {
		case err != nil:
			s.opts.Log.Error("verdict lookup failed", "err", err)
			writeError(w, http.StatusServiceUnavailable, "store", "could not read verdicts; retry later")
			return
		case ok:
			res.Verdict, res.Reason = g.Verdict, g.Reason
		default:
			res.Verdict, res.Reason = string(token.Pending), "awaiting_issuer"
		}
	}
	s.opts.Log.Info("verify", "verdict", res.Verdict, "reason", res.Reason, "device", req.Device)
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) givenVerdict(fingerprint string) (givenVerdict, bool, error) {
	var g givenVerdict
	var ok bool
	err := s.st.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketVerdicts)
		if b == nil {
			return nil
		}
		v := b.Get([]byte(fingerprint))
		if v == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(v, &g)
	})
	if err != nil {
		return givenVerdict{}, false, fmt.Errorf("read verdict: %w", err)
	}
	return g, ok, nil
}

// handleGiveVerdicts stores verdicts that an issuer gives later for opaque
// tokens. A later verdict for the same token replaces the earlier one.
func (s *Server) handleGiveVerdicts(w http.ResponseWriter, r *http.Request) {
	var req api.GivenVerdicts
	if !decodeStrict(w, r, &req) {
		return
	}
	if len(req.Verdicts) > api.MaxBatch {
		writeError(w, http.StatusRequestEntityTooLarge, "batch_too_large",
			fmt.Sprintf("%d verdicts, at most %d", len(req.Verdicts), api.MaxBatch))
		return
	}
	for i, v := range req.Verdicts {
		switch {
		case v.Token == "" || len(v.Token) > 512:
			writeError(w, http.StatusBadRequest, "bad_token", fmt.Sprintf("verdict %d: token must have 1 to 512 bytes", i))
			return
		case v.Verdict != string(token.Verified) && v.Verdict != string(token.Invalid) && v.Verdict != string(token.Expired):
			writeError(w, http.StatusBadRequest, "bad_verdict", fmt.Sprintf("verdict %d: must be verified, invalid or expired", i))
			return
		case len(v.Reason) > 64:
			writeError(w, http.StatusBadRequest, "bad_reason", fmt.Sprintf("verdict %d: reason longer than 64 bytes", i))
			return
		}
	}
	now := s.opts.Clock.Now()
	err := s.st.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketVerdicts)
		if err != nil {
			return err
		}
		for _, v := range req.Verdicts {
			raw, err := json.Marshal(givenVerdict{Verdict: v.Verdict, Reason: v.Reason, At: now})
			if err != nil {
				return err
			}
			if err := b.Put([]byte(token.Fingerprint(v.Token)), raw); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.opts.Log.Error("store verdicts failed", "err", err)
		writeError(w, http.StatusServiceUnavailable, "store", "could not store the verdicts; retry later")
		return
	}
	writeJSON(w, http.StatusOK, api.VerdictsStored{Stored: len(req.Verdicts)})
}

// handleScanVerdict answers the verdict of one stored scan; a pending scan
// takes the verdict given later for its token, when there is one.
func (s *Server) handleScanVerdict(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	if id == "" || len(id) > 64 {
		writeError(w, http.StatusBadRequest, "bad_id", "query parameter id is required (a scan id)")
		return
	}
	var sc storedScan
	var found bool
	err := s.st.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketScans).Get([]byte(id))
		if v == nil {
			return nil
		}
		found = true
		return json.Unmarshal(v, &sc)
	})
	ans := api.ScanVerdict{ID: id, Verdict: sc.Verdict, Copy: sc.Copy}
	if err == nil && found && sc.Verdict == string(token.Pending) {
		var g givenVerdict
		var ok bool
		if g, ok, err = s.givenVerdict(token.Fingerprint(sc.Token)); ok {
			ans.Verdict, ans.Reason = g.Verdict, g.Reason
		}
	}
	switch {
	case err != nil:
		s.opts.Log.Error("scan verdict lookup failed", "err", err)
		writeError(w, http.StatusServiceUnavailable, "store", "could not read the scan; retry later")
	case !found:
		writeError(w, http.StatusNotFound, "unknown_scan", "no scan with this id")
	default:
		writeJSON(w, http.StatusOK, ans)
	}
}
