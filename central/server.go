// Package central is the reference central server of the visitor register.
// It enrolls facilities (with their business registration number), their
// devices and staff; ingests scan batches from devices idempotently by scan
// id, flagging copied tokens; answers hourly counts (counts only, never a
// list); lets only the health authority export a facility's visits, with
// an append-only audit log; lists devices that are stale, offline or
// clock-skewed; and destroys every record after 28 days.
//
// Storage is a Store: an embedded bbolt file (Open, OpenBolt) or
// PostgreSQL with daily partitions (package central/pg). docs/protocol.md
// documents the API.
package central

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/clock"
	"github.com/kipass/kipass/token"
	"golang.org/x/sync/errgroup"
)

// Checker gives verdicts on opaque tokens (formats central cannot check by
// signature). token.Verifier satisfies it.
type Checker interface {
	// Check returns the verdict on text at the scan's time; token.Pending
	// when it cannot tell yet.
	Check(ctx context.Context, text string, at time.Time) (token.Verdict, error)
}

// Options configure a Server. The zero value is a development server: no
// operator or authority accounts, and devices may send scans and
// heartbeats without a credential.
type Options struct {
	// Keys is the issuer key set served to devices and used to check
	// verified tokens; an empty set when nil.
	Keys *token.KeySet
	// Clock is central's clock; clock.Real when nil.
	Clock clock.Clock
	// Log receives request logs; slog.Default when nil.
	Log *slog.Logger
	// RequireCredentials makes device endpoints (scans, heartbeat, counts)
	// demand an enrolled device's credential. When false (development and
	// the demo), a request without a credential is taken as an unenrolled
	// device; a request with one is always checked.
	RequireCredentials bool
	// Admins are the operators' credentials by name: they approve held
	// registrations and see the whole fleet.
	Admins map[string]string
	// Authorities are the health authority's credentials by name: the only
	// accounts that may export visits.
	Authorities map[string]string
	// Issuers are the QR issuers' credentials by name: they give later
	// verdicts on their opaque tokens (POST /v1/verdicts).
	Issuers map[string]string
	// Opaque gives verdicts on pending scans whose token is not a KP1
	// token; nil leaves them pending.
	Opaque Checker
	// TimeTolerance widens a token's validity when a verified scan's
	// corrected time is checked against it; DefaultTimeTolerance when zero.
	TimeTolerance time.Duration
	// Retention is how long scans are kept; 28 days when zero.
	Retention time.Duration
	// PurgeEvery is the purge period of Run; one hour when zero.
	PurgeEvery time.Duration
	// CodeValidity is how long an enrollment code may be traded; 24 h when zero.
	CodeValidity time.Duration
	// StaleAfter and OfflineAfter classify devices by the age of their last
	// heartbeat; 5 min and 30 min when zero.
	StaleAfter, OfflineAfter time.Duration
	// SkewLimit is the largest device clock error not flagged; 30 s when zero.
	SkewLimit time.Duration
	// BacklogLimit is the oldest unsent age flagged as a backlog; 1 h when zero.
	BacklogLimit time.Duration
	// Limits are the rate limits; DefaultLimits when nil. A zero Limit in
	// them turns that limit off.
	Limits *Limits
	// ClientIPHeader names a header holding the client's address (its last
	// comma-separated value), set by a trusted proxy in front of central,
	// such as "X-Forwarded-For"; the connection's peer address when empty.
	ClientIPHeader string
	// Timeouts bound connections of HTTPServer; DefaultTimeouts when nil.
	Timeouts *Timeouts
	// Sender delivers the outbox's notices (a branch registered under an
	// existing business number); LogSender when nil.
	Sender Sender
	// OutboxEvery is the outbox period of Run; 10 s when zero.
	OutboxEvery time.Duration
}

// Server is a central server over a Store.
type Server struct {
	st          Store
	opts        Options
	mux         *http.ServeMux
	admins      map[string]string // hash -> name
	authorities map[string]string // hash -> name
	issuers     map[string]string // hash -> name

	limRegister, limEnroll, limPublic, limIngest *limiter
}

// Open opens (or creates) a bbolt store at path and serves it.
func Open(path string, o Options) (*Server, error) {
	st, err := OpenBolt(path)
	if err != nil {
		return nil, err
	}
	return New(st, o), nil
}

// New returns a server over st; Close closes st.
func New(st Store, o Options) *Server {
	if o.Keys == nil {
		o.Keys = token.NewKeySet()
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.Retention, 28*24*time.Hour)
	def(&o.TimeTolerance, DefaultTimeTolerance)
	def(&o.OutboxEvery, 10*time.Second)
	if o.Sender == nil {
		o.Sender = LogSender{Log: o.Log}
	}
	def(&o.PurgeEvery, time.Hour)
	def(&o.CodeValidity, 24*time.Hour)
	def(&o.StaleAfter, 5*time.Minute)
	def(&o.OfflineAfter, 30*time.Minute)
	def(&o.SkewLimit, 30*time.Second)
	def(&o.BacklogLimit, time.Hour)
	s := &Server{st: st, opts: o, mux: http.NewServeMux(), admins: map[string]string{}, authorities: map[string]string{},
		issuers: map[string]string{}}
	lim := DefaultLimits
	if o.Limits != nil {
		lim = *o.Limits
	}
	s.limRegister, s.limEnroll = newLimiter(lim.Register, o.Clock), newLimiter(lim.Enroll, o.Clock)
	s.limPublic, s.limIngest = newLimiter(lim.Public, o.Clock), newLimiter(lim.Ingest, o.Clock)
	for name, secret := range o.Admins {
		s.admins[hashSecret(secret)] = name
	}
	for name, secret := range o.Authorities {
		s.authorities[hashSecret(secret)] = name
	}
	for name, secret := range o.Issuers {
		s.issuers[hashSecret(secret)] = name
	}
	s.routes()
	return s
}

func (s *Server) routes() {
	m := s.mux
	// Endpoints that take no credential are limited per source address.
	m.HandleFunc("GET "+api.PathKeys, s.perSource(s.limPublic, s.handleKeys))
	m.HandleFunc("GET "+api.PathTime, s.perSource(s.limPublic, s.handleTime))
	m.HandleFunc("GET "+api.PathBusinessTypes, s.perSource(s.limPublic, s.handleBusinessTypes))
	m.HandleFunc("POST "+api.PathFacilities, s.perSource(s.limRegister, s.handleRegister))
	m.HandleFunc("POST "+api.PathEnroll, s.perSource(s.limEnroll, s.handleEnroll))
	m.HandleFunc("POST "+api.PathRotate, s.only(s.handleRotate, RoleDevice, RoleManager, RoleStaff))

	m.HandleFunc("POST "+api.PathScans, s.device(s.handleScans))
	m.HandleFunc("POST "+api.PathHeartbeat, s.device(s.handleHeartbeat))
	m.HandleFunc("GET "+api.PathCounts, s.device(s.handleCounts))

	m.HandleFunc("GET "+api.PathFacilities, s.only(s.handleFacilities, RoleAdmin))
	m.HandleFunc("GET "+api.PathFacilities+"/{id}", s.facility(s.handleFacility, true, RoleManager, RoleStaff))
	m.HandleFunc("POST "+api.PathFacilities+"/{id}/approve", s.only(s.handleApprove, RoleAdmin))
	m.HandleFunc("POST "+api.PathFacilities+"/{id}/dispute", s.only(s.handleDispute, RoleManager))
	m.HandleFunc("POST "+api.PathFacilities+"/{id}/decide", s.only(s.handleDecide, RoleAdmin))
	// Devices read their facility's stats for the agent's status page.
	m.HandleFunc("GET "+api.PathFacilities+"/{id}/stats", s.facility(s.handleStats, false, RoleManager, RoleStaff, RoleDevice))
	m.HandleFunc("POST "+api.PathFacilities+"/{id}/enrollment-codes", s.facility(s.handleCode, false, RoleManager))
	m.HandleFunc("GET "+api.PathFacilities+"/{id}/devices", s.facility(s.handleDevices, false, RoleManager, RoleStaff))
	m.HandleFunc("PATCH "+api.PathFacilities+"/{id}/devices/{device}", s.facility(s.handleEntrance, false, RoleManager))
	m.HandleFunc("DELETE "+api.PathFacilities+"/{id}/devices/{device}", s.facility(s.handleRemoveDevice, false, RoleManager))
	m.HandleFunc("GET "+api.PathFacilities+"/{id}/staff", s.facility(s.handleStaffList, false, RoleManager))
	m.HandleFunc("POST "+api.PathFacilities+"/{id}/staff", s.facility(s.handleAddStaff, false, RoleManager))
	m.HandleFunc("DELETE "+api.PathFacilities+"/{id}/staff/{staff}", s.facility(s.handleRemoveStaff, false, RoleManager))

	m.HandleFunc("GET "+api.PathFleet, s.only(s.handleFleet, RoleAdmin, RoleManager, RoleStaff))
	m.HandleFunc("GET "+api.PathExport, s.only(s.handleExport, RoleAuthority))
	m.HandleFunc("GET "+api.PathAudit, s.only(s.handleAudit, RoleAuthority, RoleAdmin))
	s.routeVerify() // verify.go: online verification and later verdicts
	m.HandleFunc("/", s.perSource(s.limPublic, func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no_such_endpoint", "no such endpoint: "+r.Method+" "+r.URL.Path)
	}))
}

// Close closes the store.
func (s *Server) Close() error { return s.st.Close() }

// Handler returns the HTTP handler of the central API.
func (s *Server) Handler() http.Handler { return s.mux }

// Store returns the server's store.
func (s *Server) Store() Store { return s.st }

// ScanCount returns the number of distinct scans stored.
func (s *Server) ScanCount() (int, error) { return s.st.ScanCount(context.Background()) }

// Purge destroys the scans older than the retention (28 days) now, in
// whole KST days, and returns how many it destroyed.
func (s *Server) Purge(ctx context.Context) (int, error) {
	n, err := s.st.Purge(ctx, s.opts.Clock.Now().Add(-s.opts.Retention))
	if err != nil {
		return 0, err
	}
	if n > 0 {
		s.opts.Log.Info("purged scans past retention", "scans", n, "retention", s.opts.Retention)
	}
	return n, nil
}

// Run purges at once and then every PurgeEvery, and sends the outbox every
// OutboxEvery, until ctx ends. A failing purge or send is logged and
// retried at the next tick; Run returns nil when ctx ends.
func (s *Server) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.runPurge(ctx) })
	g.Go(func() error { return s.runOutbox(ctx) })
	return g.Wait()
}

func (s *Server) runPurge(ctx context.Context) error {
	for {
		if _, err := s.Purge(ctx); err != nil && ctx.Err() == nil {
			s.opts.Log.Error("purge failed; retrying at the next tick", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.opts.Clock.After(s.opts.PurgeEvery):
		}
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, reason, msg string) {
	writeJSON(w, code, api.Error{Error: msg, Reason: reason})
}

// storeFailed answers a storage failure: the client may retry.
func (s *Server) storeFailed(w http.ResponseWriter, op string, err error) {
	s.opts.Log.Error("store failed", "op", op, "err", err)
	writeError(w, http.StatusServiceUnavailable, "store", "could not "+op+"; retry later")
}

// decodeBody decodes a small JSON request body strictly; it answers the
// error itself and returns false on bad input.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", "request body too large")
			return false
		}
		writeError(w, http.StatusBadRequest, "bad_json", "body is not valid JSON: "+err.Error())
		return false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "bad_json", "body has trailing data")
		return false
	}
	return true
}

// newSecret returns a credential: prefix and 32 random bytes, base64url.
func newSecret(prefix string) string {
	b := make([]byte, 32)
	rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// newID returns an identifier: prefix and 8 random bytes, hex.
func newID(prefix string) string {
	b := make([]byte, 8)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// hashSecret is how credentials and codes are stored: hex SHA-256. The
// secrets carry 256 (credentials) or 60 (one-time, expiring codes) random
// bits, so a plain hash suffices.
func hashSecret(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// principal is who made a request.
type principal struct {
	role     Role // "" for anonymous
	name     string
	facility string
	subject  string
}

// authError is an authentication failure with its HTTP answer.
type authError struct {
	code   int
	reason string
	msg    string
}

// authenticate resolves the bearer credential of r. Anonymous requests get
// a zero principal.
func (s *Server) authenticate(r *http.Request) (principal, *authError) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return principal{}, nil
	}
	secret, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || secret == "" || len(secret) > 256 {
		return principal{}, &authError{http.StatusUnauthorized, "bad_authorization", "Authorization must be \"Bearer <credential>\""}
	}
	hash := hashSecret(secret)
	if name, ok := s.admins[hash]; ok {
		return principal{role: RoleAdmin, name: name}, nil
	}
	if name, ok := s.authorities[hash]; ok {
		return principal{role: RoleAuthority, name: name}, nil
	}
	if name, ok := s.issuers[hash]; ok {
		return principal{role: RoleIssuer, name: name}, nil
	}
	c, err := s.st.Credential(r.Context(), hash)
	switch {
	case errors.Is(err, ErrNotFound):
		return principal{}, &authError{http.StatusUnauthorized, "unknown_credential", "unknown credential"}
	case err != nil:
		s.opts.Log.Error("store failed", "op", "credential", "err", err)
		return principal{}, &authError{http.StatusServiceUnavailable, "store", "could not check the credential; retry later"}
	case !c.RevokedAt.IsZero():
		return principal{}, &authError{http.StatusUnauthorized, "credential_revoked", "credential revoked"}
	}
	if c.Pending { // the first use of a rotated credential retires the old one
		err := s.st.ConfirmCredential(r.Context(), hash, s.opts.Clock.Now())
		switch {
		case errors.Is(err, ErrNotFound):
			return principal{}, &authError{http.StatusUnauthorized, "credential_revoked", "credential revoked"}
		case err != nil:
			s.opts.Log.Error("store failed", "op", "confirm credential", "err", err)
			return principal{}, &authError{http.StatusServiceUnavailable, "store", "could not check the credential; retry later"}
		}
		s.opts.Log.Info("rotated credential in use; the old one is revoked", "facility", c.Facility, "subject", c.Subject)
	}
	p := principal{role: c.Role, facility: c.Facility, subject: c.Subject, name: c.Name}
	return p, nil
}

// active answers 403 facility_held when p's facility is not active yet.
func (s *Server) active(w http.ResponseWriter, r *http.Request, facility string) bool {
	f, err := s.st.Facility(r.Context(), facility)
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, "unknown_facility", "no such facility")
		return false
	case err != nil:
		s.storeFailed(w, "read the facility", err)
		return false
	case f.Status == api.FacilityRemoved:
		writeError(w, http.StatusForbidden, "facility_removed", "the facility was removed by an operator's decision")
		return false
	case f.Status != api.FacilityActive:
		writeError(w, http.StatusForbidden, "facility_held", "the facility's registration is held ("+f.Status+") until an operator decides")
		return false
	}
	return true
}

type handler func(w http.ResponseWriter, r *http.Request, p principal)

func allowed(role Role, roles []Role) bool {
	for _, r := range roles {
		if r == role {
			return true
		}
	}
	return false
}

// only lets the given roles through.
func (s *Server) only(h handler, roles ...Role) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ae := s.authenticate(r)
		if ae != nil {
			writeError(w, ae.code, ae.reason, ae.msg)
			return
		}
		if p.role == "" {
			writeError(w, http.StatusUnauthorized, "missing_credential", "this endpoint needs a credential")
			return
		}
		if !allowed(p.role, roles) {
			writeError(w, http.StatusForbidden, "forbidden", fmt.Sprintf("a %s credential may not do this", p.role))
			return
		}
		h(w, r, p)
	}
}

// facility lets through admins and the given roles of the facility in the
// path; an active facility is required unless held is true.
func (s *Server) facility(h handler, held bool, roles ...Role) http.HandlerFunc {
	return s.only(func(w http.ResponseWriter, r *http.Request, p principal) {
		id := r.PathValue("id")
		if p.role != RoleAdmin && p.facility != id {
			writeError(w, http.StatusForbidden, "forbidden", "the credential belongs to another facility")
			return
		}
		if !held && p.role != RoleAdmin && !s.active(w, r, id) {
			return
		}
		if p.role == RoleAdmin {
			if _, err := s.st.Facility(r.Context(), id); errors.Is(err, ErrNotFound) {
				writeError(w, http.StatusNotFound, "unknown_facility", "no such facility")
				return
			}
		}
		h(w, r, p)
	}, append([]Role{RoleAdmin}, roles...)...)
}

// device authenticates device endpoints: an enrolled device's credential,
// a facility's manager or staff (counts only), or, when credentials are not
// required, nobody.
func (s *Server) device(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ae := s.authenticate(r)
		if ae != nil {
			writeError(w, ae.code, ae.reason, ae.msg)
			return
		}
		switch p.role {
		case "":
			if s.opts.RequireCredentials {
				writeError(w, http.StatusUnauthorized, "missing_credential", "this endpoint needs a device credential")
				return
			}
		case RoleDevice, RoleManager, RoleStaff:
			if !s.active(w, r, p.facility) {
				return
			}
		case RoleAdmin:
		default:
			writeError(w, http.StatusForbidden, "forbidden", fmt.Sprintf("a %s credential may not do this", p.role))
			return
		}
		h(w, r, p)
	}
}

func (s *Server) handleKeys(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.opts.Keys)
}

func (s *Server) handleTime(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, api.Time{Now: s.opts.Clock.Now()})
}

func (s *Server) handleBusinessTypes(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, BusinessTypes)
}
