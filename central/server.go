// Package central is the reference central server of the visitor register.
// It ingests scan batches from devices idempotently by scan id, serves the
// issuer key set and its clock, and answers hourly visitor counts per
// facility: counts only, never a list of visitors.
package central

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/clock"
	"github.com/kipass/kipass/token"
)

// Options configure a Server.
type Options struct {
	// Keys is the issuer key set served to devices and used to check
	// verified tokens; an empty set when nil.
	Keys *token.KeySet
	// Clock is central's clock; clock.Real when nil.
	Clock clock.Clock
	// Log receives request logs; slog.Default when nil.
	Log *slog.Logger
}

// Server is a central server backed by a bbolt file.
type Server struct {
	st   *store
	opts Options
	mux  *http.ServeMux
}

// Open opens (or creates) the central store at path.
func Open(path string, o Options) (*Server, error) {
	if o.Keys == nil {
		o.Keys = token.NewKeySet()
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	st, err := openStore(path)
	if err != nil {
		return nil, err
	}
	s := &Server{st: st, opts: o, mux: http.NewServeMux()}
	s.mux.HandleFunc("POST "+api.PathScans, s.handleScans)
	s.mux.HandleFunc("GET "+api.PathKeys, s.handleKeys)
	s.mux.HandleFunc("GET "+api.PathCounts, s.handleCounts)
	s.mux.HandleFunc("GET "+api.PathTime, s.handleTime)
	s.routeVerify()
	return s, nil
}

// Close closes the store.
func (s *Server) Close() error { return s.st.close() }

// Handler returns the HTTP handler of the central API.
func (s *Server) Handler() http.Handler { return s.mux }

// ScanCount returns the number of distinct scans stored.
func (s *Server) ScanCount() (int, error) { return s.st.scanCount() }

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, reason, msg string) {
	writeJSON(w, code, api.Error{Error: msg, Reason: reason})
}

func (s *Server) handleScans(w http.ResponseWriter, r *http.Request) {
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
		if errors.As(err, &mbe) {
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
	now := s.opts.Clock.Now()
	results := make([]api.ItemResult, len(b.Scans))
	var items []ingestItem
	var at []int
	for i, sc := range b.Scans {
		results[i].ID = sc.ID
		if reason := s.check(sc); reason != "" {
			results[i].Status, results[i].Reason = api.Rejected, reason
			continue
		}
		items = append(items, ingestItem{scan: sc, fingerprint: token.Fingerprint(sc.Token)})
		at = append(at, i)
	}
	dup, copies, err := s.st.ingest(items, now)
	if err != nil {
		s.opts.Log.Error("ingest failed", "scans", len(items), "err", err)
		writeError(w, http.StatusServiceUnavailable, "store", "could not store the batch; retry later")
		return
	}
	for j, i := range at {
		results[i].Status = api.Accepted
		if dup[j] {
			results[i].Status = api.Duplicate
		}
		results[i].Copy = copies[j]
	}
	s.opts.Log.Info("batch ingested", "scans", len(b.Scans), "stored", len(items))
	writeJSON(w, http.StatusOK, api.BatchResult{Results: results, ServerTime: now})
}

// check returns a rejection reason for a scan that can never be accepted,
// or "" for a good one.
func (s *Server) check(sc api.Scan) string {
	switch {
	case sc.ID == "" || len(sc.ID) > 64:
		return "bad_id"
	case sc.Facility == "" || len(sc.Facility) > 64:
		return "bad_facility"
	case sc.Device == "" || len(sc.Device) > 64:
		return "bad_device"
	case sc.Token == "" || len(sc.Token) > 512:
		return "bad_token"
	case sc.CorrectedTime.IsZero():
		return "bad_time"
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
	}
	return ""
}

func (s *Server) handleKeys(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.opts.Keys)
}

func (s *Server) handleTime(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, api.Time{Now: s.opts.Clock.Now()})
}

func (s *Server) handleCounts(w http.ResponseWriter, r *http.Request) {
	f := r.URL.Query().Get("facility")
	if f == "" {
		writeError(w, http.StatusBadRequest, "missing_facility", "query parameter facility is required")
		return
	}
	day := s.opts.Clock.Now().In(api.KST)
	if d := r.URL.Query().Get("date"); d != "" {
		t, err := time.ParseInLocation("2006-01-02", d, api.KST)
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad_date", "date must be YYYY-MM-DD")
			return
		}
		day = t
	}
	c, err := s.st.counts(f, day)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "store", "could not read counts")
		return
	}
	writeJSON(w, http.StatusOK, c)
}
