package central

import (
	"errors"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/kipass/kipass/central/api"
)

// countsFacility resolves the facility a counts request may read.
func countsFacility(w http.ResponseWriter, r *http.Request, p principal) (string, bool) {
	f := r.URL.Query().Get("facility")
	if f == "" {
		f = p.facility
	}
	if f == "" {
		writeError(w, http.StatusBadRequest, "missing_facility", "query parameter facility is required")
		return "", false
	}
	if p.facility != "" && f != p.facility {
		writeError(w, http.StatusForbidden, "forbidden", "the credential belongs to another facility")
		return "", false
	}
	return f, true
}

func (s *Server) handleCounts(w http.ResponseWriter, r *http.Request, p principal) {
	f, ok := countsFacility(w, r, p)
	if !ok {
		return
	}
	day := Day(s.opts.Clock.Now())
	if d := r.URL.Query().Get("date"); d != "" {
		t, err := time.ParseInLocation("2006-01-02", d, api.KST)
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad_date", "date must be YYYY-MM-DD")
			return
		}
		day = t
	}
	hc, err := s.st.HourCounts(r.Context(), f, day, day.AddDate(0, 0, 1))
	if err != nil {
		s.storeFailed(w, "read counts", err)
		return
	}
	c := api.Counts{Facility: f, Date: day.Format("2006-01-02")}
	for _, h := range hc {
		c.Hours[h.Hour.In(api.KST).Hour()] += h.N - h.Repeats
		c.Total += h.N - h.Repeats
	}
	pc, err := s.st.PaperHourCounts(r.Context(), f, day, day.AddDate(0, 0, 1))
	if err != nil {
		s.storeFailed(w, "read paper counts", err)
		return
	}
	for _, h := range pc {
		c.Paper[h.Hour.In(api.KST).Hour()] += h.N
		c.PaperTotal += h.N
	}
	writeJSON(w, http.StatusOK, c)
}

// series folds hour counts into 14 days by day and today by hour.
type series struct {
	days  [14]int
	hours [24]int
	// paperDays and paperHours are the paper-ledger series beside them.
	paperDays  [14]int
	paperHours [24]int
}

func (s *Server) handleStats(w http.ResponseWriter, r *http.Request, _ principal) {
	id := r.PathValue("id")
	today := Day(s.opts.Clock.Now())
	first := today.AddDate(0, 0, -13)
	hc, err := s.st.HourCounts(r.Context(), id, first, today.AddDate(0, 0, 1))
	if err != nil {
		s.storeFailed(w, "read counts", err)
		return
	}
	pc, err := s.st.PaperHourCounts(r.Context(), id, first, today.AddDate(0, 0, 1))
	if err != nil {
		s.storeFailed(w, "read paper counts", err)
		return
	}
	devs, err := s.st.Devices(r.Context(), id)
	if err != nil {
		s.storeFailed(w, "list devices", err)
		return
	}
	var all series
	per := map[string]*series{}
	for _, d := range devs {
		per[d.ID] = &series{}
	}
	// place finds an hour's device series, day index (0..13) and hour.
	place := func(h HourCount) (ds *series, day, hour int, ok bool) {
		ds = per[h.Device]
		if ds == nil {
			ds = &series{}
			per[h.Device] = ds
		}
		t := h.Hour.In(api.KST)
		day = int(Day(t).Sub(first).Hours()+0.5) / 24
		return ds, day, t.Hour(), day >= 0 && day < 14
	}
	for _, h := range hc {
		if ds, i, hr, ok := place(h); ok {
			// A device counts every passage; the facility counts a visit
			// seen at two entrances once.
			ds.add(i, hr, h.N)
			all.add(i, hr, h.N-h.Repeats)
		}
	}
	for _, h := range pc {
		if ds, i, hr, ok := place(h); ok {
			ds.addPaper(i, hr, h.N)
			all.addPaper(i, hr, h.N)
		}
	}
	out := api.Stats{Facility: id, CountSeries: all.api(id, first), Devices: []api.DeviceCounts{}}
	entrance := map[string]string{}
	for _, d := range devs {
		entrance[d.ID] = d.Entrance
	}
	for dev, x := range per {
		out.Devices = append(out.Devices, api.DeviceCounts{Device: dev, Entrance: entrance[dev], CountSeries: x.api(id, first)})
	}
	sort.Slice(out.Devices, func(i, j int) bool { return out.Devices[i].Device < out.Devices[j].Device })
	writeJSON(w, http.StatusOK, out)
}

func (x *series) add(day, hour, n int) {
	x.days[day] += n
	if day == 13 {
		x.hours[hour] += n
	}
}

// addPaper adds n paper-ledger visits to day (0..13) and, today, to hour.
func (x *series) addPaper(day, hour, n int) {
	x.paperDays[day] += n
	if day == 13 {
		x.paperHours[hour] += n
	}
}

func (x *series) api(facility string, first time.Time) api.CountSeries {
	cs := api.CountSeries{Days: make([]api.DayCount, 14)}
	for i := range cs.Days {
		cs.Days[i] = api.DayCount{Date: first.AddDate(0, 0, i).Format("2006-01-02"), Total: x.days[i], Paper: x.paperDays[i]}
	}
	cs.Today = api.Counts{Facility: facility, Date: first.AddDate(0, 0, 13).Format("2006-01-02"), Hours: x.hours, Total: x.days[13],
		Paper: x.paperHours, PaperTotal: x.paperDays[13]}
	return cs
}

func (s *Server) handleFleet(w http.ResponseWriter, r *http.Request, p principal) {
	f := r.URL.Query().Get("facility")
	if p.role != RoleAdmin {
		if f != "" && f != p.facility {
			writeError(w, http.StatusForbidden, "forbidden", "the credential belongs to another facility")
			return
		}
		f = p.facility
		if !s.active(w, r, f) {
			return
		}
	}
	only := r.URL.Query().Get("problems")
	if only != "" && only != "only" {
		writeError(w, http.StatusBadRequest, "bad_problems", "problems must be \"only\" or absent")
		return
	}
	s.writeFleet(w, r, f, only == "only")
}

// writeFleet answers the devices of facility ("" for all) with their problems.
func (s *Server) writeFleet(w http.ResponseWriter, r *http.Request, facility string, problemsOnly bool) {
	devs, err := s.st.Devices(r.Context(), facility)
	if err != nil {
		s.storeFailed(w, "list devices", err)
		return
	}
	now := s.opts.Clock.Now()
	out := api.Fleet{ServerTime: now, Devices: []api.Device{}}
	for _, d := range devs {
		d.Problems = s.problems(d, now)
		if problemsOnly && len(d.Problems) == 0 {
			continue
		}
		out.Devices = append(out.Devices, d)
	}
	sort.Slice(out.Devices, func(i, j int) bool {
		a, b := out.Devices[i], out.Devices[j]
		return a.Facility < b.Facility || a.Facility == b.Facility && a.ID < b.ID
	})
	sheets, err := s.st.Sheets(r.Context(), facility)
	if err != nil {
		s.storeFailed(w, "read the ledger sheets", err)
		return
	}
	out.Ledgers = compliance(sheets, now)
	writeJSON(w, http.StatusOK, out)
}

// problems lists what is wrong with a device at now.
func (s *Server) problems(d api.Device, now time.Time) []string {
	p := []string{}
	if d.LastSeen.IsZero() {
		return append(p, api.ProblemNeverSeen)
	}
	switch age := now.Sub(d.LastSeen); {
	case age > s.opts.OfflineAfter:
		p = append(p, api.ProblemOffline)
	case age > s.opts.StaleAfter:
		p = append(p, api.ProblemStale)
	}
	if skew := time.Duration(d.ClockSkewMillis) * time.Millisecond; skew > s.opts.SkewLimit || skew < -s.opts.SkewLimit {
		p = append(p, api.ProblemClockSkewed)
	}
	if d.Camera != "" && d.Camera != "ok" && d.Camera != "starting" && d.Camera != "watching" {
		p = append(p, api.ProblemCamera)
	}
	if d.Scanner != "" && d.Scanner != "open" && d.Scanner != "starting" {
		p = append(p, api.ProblemScanner)
	}
	if time.Duration(d.OldestUnsentSeconds*float64(time.Second)) > s.opts.BacklogLimit {
		p = append(p, api.ProblemBacklog)
	}
	return p
}

func (s *Server) handleExport(w http.ResponseWriter, r *http.Request, p principal) {
	q := r.URL.Query()
	facility, purpose := q.Get("facility"), strings.TrimSpace(q.Get("purpose"))
	if why := checkText(facility, 64, false); why != "" {
		badField(w, "facility", why)
		return
	}
	if why := checkText(purpose, 200, false); why != "" {
		badField(w, "purpose", why)
		return
	}
	from, err1 := time.Parse(time.RFC3339, q.Get("from"))
	to, err2 := time.Parse(time.RFC3339, q.Get("to"))
	if err1 != nil || err2 != nil || !from.Before(to) {
		writeError(w, http.StatusBadRequest, "bad_window", "from and to must be RFC 3339 times with from before to")
		return
	}
	if to.Sub(from) > s.opts.Retention {
		writeError(w, http.StatusBadRequest, "bad_window", "the window may span at most the retention period")
		return
	}
	if _, err := s.st.Facility(r.Context(), facility); errors.Is(err, ErrNotFound) {
		writeError(w, http.StatusNotFound, "unknown_facility", "no such facility")
		return
	} else if err != nil {
		s.storeFailed(w, "read the facility", err)
		return
	}
	now := s.opts.Clock.Now()
	lo := from
	if cut := now.Add(-s.opts.Retention); lo.Before(cut) {
		lo = cut // past retention, nothing may be served even before the purge runs
	}
	var scans []Scan
	if lo.Before(to) {
		var err error
		if scans, err = s.st.Export(r.Context(), facility, lo, to); err != nil {
			s.storeFailed(w, "export", err)
			return
		}
	}
	devs, err := s.st.Devices(r.Context(), facility)
	if err != nil {
		s.storeFailed(w, "list devices", err)
		return
	}
	entrance := map[string]string{}
	for _, d := range devs {
		entrance[d.ID] = d.Entrance
	}
	// The audit entry is written before any record leaves: no entry, no data.
	e, err := s.st.AppendAudit(r.Context(), api.AuditEntry{At: now, Authority: p.name, Facility: facility,
		From: from, To: to, Purpose: purpose, Records: len(scans)})
	if err != nil {
		s.storeFailed(w, "write the audit log", err)
		return
	}
	s.opts.Log.Info("authority export", "audit_seq", e.Seq, "authority", p.name, "facility", facility, "records", len(scans))
	// People read the export: its times are in KST (+09:00), as in docs/protocol.md.
	out := api.Export{Facility: facility, From: from.In(api.KST), To: to.In(api.KST), AuditSeq: e.Seq, Visits: make([]api.Visit, len(scans))}
	for i, sc := range scans {
		out.Visits[i] = api.Visit{Device: sc.Device, Entrance: entrance[sc.Device], CorrectedTime: sc.CorrectedTime.In(api.KST),
			DeviceTime: sc.DeviceTime.In(api.KST), Token: sc.Token, Verdict: sc.Verdict, Copy: sc.Copy,
			Repeat: sc.Repeat, TimeFromToken: sc.TimeFromToken}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request, _ principal) {
	es, err := s.st.Audit(r.Context())
	if err != nil {
		s.storeFailed(w, "read the audit log", err)
		return
	}
	for i := range es { // in KST, like the export
		es[i].At, es[i].From, es[i].To = es[i].At.In(api.KST), es[i].From.In(api.KST), es[i].To.In(api.KST)
	}
	writeJSON(w, http.StatusOK, api.Audit{Entries: es})
}
