package central

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/ledger"
)

// LedgerStore keeps what central knows of the paper ledgers beside the
// scanners: paper visits (counts, kept by KST day like scans and purged
// with them) and the sheets each device reports.
type LedgerStore interface {
	// IngestPaper stores new paper visits and skips known ones (by id
	// within the visit's day), in one transaction; dup[i] reports a known one.
	IngestPaper(ctx context.Context, visits []PaperVisit) (dup []bool, err error)
	// PaperHourCounts counts paper visits of a facility per device and hour in [from, to).
	PaperHourCounts(ctx context.Context, facility string, from, to time.Time) ([]HourCount, error)
	// PutSheets records the sheets a device reported at `at` (replacing
	// what it reported before for the same dates).
	PutSheets(ctx context.Context, facility, device string, sheets []api.Sheet, at time.Time) error
	// Sheets returns the sheets reported by the devices of a facility ("" for all).
	Sheets(ctx context.Context, facility string) ([]DeviceSheet, error)
}

// PaperVisit is what central keeps of a paper-ledger visit: where and
// when, nothing else.
type PaperVisit struct {
	ID            string    `json:"id"`
	Facility      string    `json:"facility"`
	Device        string    `json:"device"`
	CorrectedTime time.Time `json:"corrected_time"`
	ReceivedAt    time.Time `json:"received_at"`
}

// DeviceSheet is a sheet as a device last reported it.
type DeviceSheet struct {
	Facility string `json:"facility"`
	Device   string `json:"device"`
	api.Sheet
	// ReportedAt is when central last heard of it.
	ReportedAt time.Time `json:"reported_at"`
}

// checkPaper returns a rejection reason for a paper visit that can never
// be accepted, or "" for a good one.
func (s *Server) checkPaper(sc api.Scan, now time.Time) string {
	switch {
	case !validPaperID(sc.ID):
		return "bad_id"
	case checkText(sc.Facility, 64, false) != "":
		return "bad_facility"
	case checkText(sc.Device, 64, false) != "":
		return "bad_device"
	case sc.Token != "" || sc.Verdict != "":
		return "paper_with_token" // a paper visit names no one
	case sc.CorrectedTime.IsZero() || sc.CorrectedTime.After(now.Add(24*time.Hour)):
		return "bad_time"
	case sc.CorrectedTime.Before(now.Add(-s.opts.Retention)):
		return "too_old"
	}
	return ""
}

func validPaperID(id string) bool {
	h, ok := strings.CutPrefix(id, api.PaperIDPrefix)
	if !ok || len(h) != 32 {
		return false
	}
	for _, c := range h {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// isControlCode reports a ledger control code sent as a visitor token: it
// is never judged or stored as one.
func isControlCode(tok string) bool { return ledger.IsControl(tok) }

// compliance folds the reported sheets into one record per facility, at now.
func compliance(sheets []DeviceSheet, now time.Time) []api.LedgerCompliance {
	today := now.In(api.KST).Format("2006-01-02")
	by := map[string]*api.LedgerCompliance{}
	for _, s := range sheets {
		c := by[s.Facility]
		if c == nil {
			c = &api.LedgerCompliance{Facility: s.Facility}
			by[s.Facility] = c
		}
		if s.ShreddedAt.IsZero() {
			c.Open++
			if today > s.DestroyBy { // due on DestroyBy, overdue the day after
				c.Overdue++
				if c.OldestOverdue == "" || s.DestroyBy < c.OldestOverdue {
					c.OldestOverdue = s.DestroyBy
				}
			}
			continue
		}
		c.Shredded++
		if s.ShreddedAt.In(api.KST).Format("2006-01-02") > s.DestroyBy {
			c.ShreddedLate++
		}
	}
	out := make([]api.LedgerCompliance, 0, len(by))
	for _, c := range by {
		c.Compliant = c.Overdue == 0
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Facility < out[j].Facility })
	return out
}

// checkSheets returns what is wrong with reported sheets, or "".
func checkSheets(sheets []api.Sheet) string {
	if len(sheets) > 200 {
		return "at most 200 sheets"
	}
	for _, s := range sheets {
		if _, err := time.Parse("2006-01-02", s.Date); err != nil {
			return "date must be YYYY-MM-DD"
		}
		if _, err := time.Parse("2006-01-02", s.DestroyBy); err != nil {
			return "destroy_by must be YYYY-MM-DD"
		}
		if s.Entries < 0 {
			return "entries must not be negative"
		}
	}
	return ""
}

// putSheets stores the ledger sheets a heartbeat reports; false when it
// answered an error.
func (s *Server) putSheets(w http.ResponseWriter, r *http.Request, hb api.Heartbeat, now time.Time) bool {
	if len(hb.Ledger) == 0 {
		return true
	}
	if why := checkSheets(hb.Ledger); why != "" {
		badField(w, "ledger", why)
		return false
	}
	if err := s.st.PutSheets(r.Context(), hb.Facility, hb.Device, hb.Ledger, now); err != nil {
		s.storeFailed(w, "store the ledger sheets", err)
		return false
	}
	return true
}
