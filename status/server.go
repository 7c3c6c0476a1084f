package status

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kipass/kipass/clock"
)

// DefaultAddr is where the page listens unless configured: loopback only.
const DefaultAddr = "127.0.0.1:8080"

// KST is Korea Standard Time, the page's default time zone.
var KST = time.FixedZone("KST", 9*3600)

// Drainer sends the waiting scans now.
type Drainer interface {
	// Flush wakes the uplink to send the queue without waiting.
	Flush()
}

// Options configure a Server. Source is required.
type Options struct {
	// Addr is the listen address; DefaultAddr when empty.
	Addr string
	// Source gives the agent's state.
	Source Source
	// Counter gives the visitor counts; nil shows none.
	Counter Counter
	// Facility gives the whole facility's counts by entrance (central's
	// stats); nil, or an error, shows this device's own counts from Counter.
	Facility FacilityCounter
	// Drainer sends the queue now for the CLI's flush; nil disables it.
	Drainer Drainer
	// Queue gives the queue's counts and resends dead letters for the
	// CLI's queue command; nil disables them.
	Queue QueueAdmin
	// Settings keeps the manager's settings; nil hides the settings page.
	Settings SettingsStore
	// PIN unlocks the settings; empty keeps them locked.
	PIN string
	// Language is the page's default language, "ko" (default) or "en"; a
	// saved setting overrides it and ?lang= overrides both.
	Language string
	// Location is the time zone of "today"; KST when nil.
	Location *time.Location
	// Metrics are served at /metrics; NewMetrics(Source) when nil.
	Metrics *Metrics
	// Ledger lets staff count paper visits and the manager keep the
	// ledger's sheets (behind the PIN); nil hides them.
	Ledger LedgerControl
	// Paper gives the paper-ledger visit counts, a series beside Counter's.
	Paper Counter
	// Clock runs the PIN lockout and sessions; clock.Real when nil.
	Clock clock.Clock
	// Log receives the server's logs; slog.Default when nil.
	Log *slog.Logger
}

// Server is the status page, /metrics, /healthz and the CLI's JSON API.
type Server struct {
	o     Options
	guard *guard
	mux   *http.ServeMux
	bound atomic.Value // string: the address being served
}

// New checks the options and returns a Server. A bad address or
// language is an error wrapping ErrConfig.
func New(o Options) (*Server, error) {
	if o.Source == nil {
		return nil, fmt.Errorf("%w: no state source", ErrConfig)
	}
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	if _, _, err := net.SplitHostPort(o.Addr); err != nil {
		return nil, fmt.Errorf("%w: listen address %q: %w", ErrConfig, o.Addr, err)
	}
	if o.Language == "" {
		o.Language = Languages[0]
	}
	if !contains(Languages, o.Language) {
		return nil, fmt.Errorf("%w: language %q is not ko or en", ErrConfig, o.Language)
	}
	if o.PIN != "" && !pinPattern.MatchString(o.PIN) {
		return nil, fmt.Errorf("%w: the manager PIN must be 6 to 12 digits", ErrConfig)
	}
	if o.Location == nil {
		o.Location = KST
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(o.Source)
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	s := &Server{o: o, guard: newGuard(o.PIN, o.Clock), mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /{$}", s.handlePage)
	s.mux.Handle("GET /metrics", o.Metrics.Handler())
	s.mux.HandleFunc("GET /healthz", s.handleHealth)
	s.mux.HandleFunc("GET /api/status", s.handleStatus)
	s.mux.HandleFunc("GET /api/counts", s.handleCounts)
	s.mux.HandleFunc("POST /api/flush", s.handleFlush)
	s.mux.HandleFunc("GET /api/queue", s.handleQueue)
	s.mux.HandleFunc("POST /api/queue/resend-dead", s.handleResendDead)
	s.mux.HandleFunc("GET /settings", s.handleSettings)
	s.mux.HandleFunc("POST /settings", s.handleSettingsSave)
	s.mux.HandleFunc("POST /settings/login", s.handleLogin)
	s.mux.HandleFunc("POST /settings/logout", s.handleLogout)
	s.mux.HandleFunc("POST /settings/flush", s.handleSettingsFlush)
	s.mux.HandleFunc("POST /settings/ledger/{what}", s.handleLedgerForm)
	s.mux.HandleFunc("GET /settings/ledger/codes", s.handleLedgerCodes)
	s.mux.HandleFunc("GET /api/ledger", s.handleLedgerAPI)
	s.mux.HandleFunc("POST /api/ledger/{what}", s.handleLedgerChange)
	return s, nil
}

// Addr is the configured listen address.
func (s *Server) Addr() string { return s.o.Addr }

// BoundAddr is the address being served ("" before Serve starts), useful
// when Addr asks for port 0.
func (s *Server) BoundAddr() string {
	a, _ := s.bound.Load().(string)
	return a
}

// Metrics are the metrics the server exports.
func (s *Server) Metrics() *Metrics { return s.o.Metrics }

// Handler is the server's HTTP handler, with its security headers and,
// on a loopback address, a check of the Host header against DNS rebinding.
func (s *Server) Handler() http.Handler {
	loopback := isLoopback(s.o.Addr)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if loopback && !isLoopback(r.Host) {
			http.Error(w, "this page answers only to localhost", http.StatusMisdirectedRequest)
			return
		}
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'")
		s.mux.ServeHTTP(w, r)
	})
}

// Run listens on Addr and serves until ctx ends. A failure to listen (the
// port is taken) is logged and retried: the page must never stop the door.
func (s *Server) Run(ctx context.Context) error {
	wait := time.Second
	for {
		var lc net.ListenConfig
		ln, err := lc.Listen(ctx, "tcp", s.o.Addr)
		if err == nil {
			return s.Serve(ctx, ln)
		}
		if ctx.Err() != nil {
			return nil
		}
		s.o.Log.Warn("status page cannot listen; retrying", "addr", s.o.Addr, "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-s.o.Clock.After(wait):
		}
		wait = min(wait*2, time.Minute)
	}
}

// Serve serves on ln until ctx ends, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, MaxHeaderBytes: 16 << 10}
	s.bound.Store(ln.Addr().String())
	defer s.bound.Store("")
	s.o.Log.Info("status page listening", "url", "http://"+ln.Addr().String()+"/")
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	select {
	case err := <-done:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("status page: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
		<-done
		return nil
	}
}

// isLoopback reports whether a host[:port] names the loopback interface.
func isLoopback(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// lang picks the page language: ?lang=, else the saved setting, else the
// configured default.
func (s *Server) lang(r *http.Request) string {
	if l := r.URL.Query().Get("lang"); contains(Languages, l) {
		return l
	}
	if s.o.Settings != nil {
		if st, err := s.o.Settings.Load(); err == nil && st.Language != "" {
			return st.Language
		}
	}
	return s.o.Language
}

// counts are the visitor counts shown: the whole facility's from central
// when it answers (14 days), else this device's own from its queue.
func (s *Server) counts(snap Snapshot, days int) (Counts, error) {
	if s.o.Facility != nil && days == Days {
		c, err := s.o.Facility.FacilityCounts()
		if err == nil {
			c.Source = CountsFacility
			return c, nil
		}
		s.o.Log.Debug("facility counts unavailable; showing this device's", "err", err)
	}
	var ctr Counter = emptyCounter{}
	if s.o.Counter != nil {
		ctr = s.o.Counter
	}
	c, err := Summarize(ctr, snap.At, s.o.Location, days)
	if err != nil {
		return c, err
	}
	c.Source = CountsDevice
	for i, d := range c.Devices {
		if d.Entrance == "" && d.Device == snap.Device {
			c.Devices[i].Entrance = snap.Entrance
		}
	}
	return c, nil
}

type emptyCounter struct{}

// HourlyCounts returns no counts.
func (emptyCounter) HourlyCounts(from, to time.Time) ([]HourCount, error) { return nil, nil }

func (s *Server) handlePage(w http.ResponseWriter, r *http.Request) {
	lang := s.lang(r)
	snap := s.o.Source.Snapshot()
	c, err := s.counts(snap, Days)
	if err != nil {
		s.o.Log.Warn("status page: counts", "err", err)
	}
	v := s.pageView(lang, snap, c, err)
	v.Ledger = s.ledgerView(r, lang, snap)
	s.render(w, "status", v)
}

func (s *Server) render(w http.ResponseWriter, name string, v any) {
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, name, v); err != nil {
		s.o.Log.Error("status page: render", "page", name, "err", err)
		http.Error(w, "the page could not be drawn", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(buf.Bytes())
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// Health is the body of /healthz.
type Health struct {
	// Status is "ok", or "fail" when the device cannot record scans.
	Status string `json:"status"`
	// State is the state line.
	State State `json:"state"`
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	st := s.o.Source.Snapshot().State()
	if st == StorageProblem {
		writeJSON(w, http.StatusServiceUnavailable, Health{Status: "fail", State: st})
		return
	}
	writeJSON(w, http.StatusOK, Health{Status: "ok", State: st})
}

// StatusReport is the body of /api/status, what `kipass-agent status` prints.
type StatusReport struct {
	Snapshot
	// State is the state line.
	State State `json:"state"`
	// OldestAgeSeconds is the oldest waiting scan's age.
	OldestAgeSeconds float64 `json:"oldest_age_seconds"`
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	snap := s.o.Source.Snapshot()
	writeJSON(w, http.StatusOK, StatusReport{Snapshot: snap, State: snap.State(), OldestAgeSeconds: snap.Queue.OldestAge(snap.At).Seconds()})
}

func (s *Server) handleCounts(w http.ResponseWriter, r *http.Request) {
	days := Days
	if d := r.URL.Query().Get("days"); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil || n < 1 || n > 60 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "days must be 1 to 60"})
			return
		}
		days = n
	}
	c, err := s.counts(s.o.Source.Snapshot(), days)
	if err != nil {
		s.o.Log.Warn("counts", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, c)
}

// FlushReport is the body of POST /api/flush.
type FlushReport struct {
	// Depth is the queue depth when the flush started.
	Depth int `json:"depth"`
}

func (s *Server) handleFlush(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "cross-site request refused"})
		return
	}
	if s.o.Drainer == nil {
		writeJSON(w, http.StatusNotImplemented, map[string]string{"error": "this agent cannot flush"})
		return
	}
	s.o.Drainer.Flush()
	writeJSON(w, http.StatusAccepted, FlushReport{Depth: s.o.Source.Snapshot().Queue.Depth})
}

const sessionCookie = "kipass_session"

func (s *Server) session(r *http.Request) string {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return ""
	}
	return c.Value
}

// sameOrigin rejects cross-site posts: the session cookie is
// SameSite=Strict; a browser's Sec-Fetch-Site must say same-origin (or
// none: typed by the user), and its Origin must match the host. A request
// with neither header (curl, the CLI) is not a browser's and passes.
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && o != "null" && u.Host == r.Host
}

// clientOf names the client for the PIN lockout: its IP address.
func clientOf(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

func (s *Server) settingsView(r *http.Request, lang string) settingsView {
	v := settingsView{Lang: lang, Other: otherLang(lang), HavePIN: s.o.PIN != "", CanFlush: s.o.Drainer != nil, HaveLedger: s.o.Ledger != nil}
	v.Unlocked = v.HavePIN && s.guard.valid(s.session(r))
	if v.Unlocked {
		st, err := s.o.Settings.Load()
		if err != nil {
			v.Error = err.Error()
		}
		v.Settings = st
		v.VolumePct = int(st.Volume*100 + 0.5)
		if v.VolumePct == 0 {
			v.VolumePct = 100
		}
	}
	return v
}

func (s *Server) handleSettings(w http.ResponseWriter, r *http.Request) {
	if s.o.Settings == nil {
		http.NotFound(w, r)
		return
	}
	s.render(w, "settings", s.settingsView(r, s.lang(r)))
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	if s.o.Settings == nil || !sameOrigin(r) {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	lang := s.lang(r)
	id, err := s.guard.login(clientOf(r), r.PostFormValue("pin"))
	if err != nil {
		v := s.settingsView(r, lang)
		switch {
		case errors.Is(err, ErrLocked):
			v.Error = T(lang, "settings.locked")
		case errors.Is(err, ErrPIN):
			v.Error = T(lang, "settings.wrong")
		default:
			v.Error = err.Error()
		}
		s.o.Log.Warn("status page: settings unlock refused", "err", err)
		w.WriteHeader(http.StatusForbidden)
		s.render(w, "settings", v)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/settings", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, MaxAge: int(SessionIdle.Seconds())})
	http.Redirect(w, r, "/settings?lang="+lang, http.StatusSeeOther)
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	s.guard.logout(s.session(r))
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: "/settings", MaxAge: -1})
	http.Redirect(w, r, "/settings?lang="+s.lang(r), http.StatusSeeOther)
}

// unlocked answers 403 unless the request carries an unlocked session
// from the same origin.
func (s *Server) unlocked(w http.ResponseWriter, r *http.Request) bool {
	if s.o.Settings == nil || !sameOrigin(r) || !s.guard.valid(s.session(r)) {
		http.Error(w, "settings are locked: unlock them with the manager PIN", http.StatusForbidden)
		return false
	}
	return true
}

func (s *Server) handleSettingsSave(w http.ResponseWriter, r *http.Request) {
	if !s.unlocked(w, r) {
		return
	}
	lang := s.lang(r)
	st := Settings{Language: r.PostFormValue("language"), QuietHours: strings.TrimSpace(r.PostFormValue("quiet_hours")),
		Tones: r.PostFormValue("tones") != ""}
	if p := r.PostFormValue("volume"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 100 {
			n = -1
		}
		st.Volume = float64(n) / 100
	}
	v := s.settingsView(r, lang)
	if err := s.o.Settings.Save(st); err != nil {
		v.Error = err.Error()
		v.Settings = st
		w.WriteHeader(http.StatusBadRequest)
		s.render(w, "settings", v)
		return
	}
	s.o.Log.Info("status page: settings saved")
	v = s.settingsView(r, lang)
	v.Message = T(lang, "settings.saved")
	s.render(w, "settings", v)
}

func (s *Server) handleSettingsFlush(w http.ResponseWriter, r *http.Request) {
	if !s.unlocked(w, r) {
		return
	}
	lang := s.lang(r)
	v := s.settingsView(r, lang)
	if s.o.Drainer != nil {
		s.o.Drainer.Flush()
		v.Message = T(lang, "settings.flushed")
	}
	s.render(w, "settings", v)
}
