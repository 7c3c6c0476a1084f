package status

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html/template"
	"image/png"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/kipass/kipass/ledger"
	"github.com/kipass/kipass/screen"
)

// Ledger is the paper ledger (수기명부) beside the scanner as the page shows
// it: its sheets and their destroy dates. Dates and counts only.
type Ledger struct {
	// Sheets are the open sheets and the recently shredded ones, oldest first.
	Sheets []ledger.Sheet `json:"sheets"`
	// Due counts the open sheets that must be shredded today or earlier.
	Due int `json:"due"`
	// Today is the day the due dates are read against, YYYY-MM-DD (KST).
	Today string `json:"today"`
}

// LedgerControl is what staff and the manager change on the paper ledger
// from the page (behind the PIN) and the CLI.
type LedgerControl interface {
	// AddPaper records n visitors who signed the paper ledger.
	AddPaper(n int) error
	// StartSheet begins a new sheet dated date ("" for today).
	StartSheet(date string) (ledger.Sheet, error)
	// Shredded records that the sheet of date was shredded.
	Shredded(date string) (ledger.Sheet, error)
	// ControlCodes returns the device's control codes to print, by action.
	ControlCodes() map[ledger.Action]string
}

// Colours of the ledger parts, fixed so that a screenshot test can find them.
const (
	// PaperBarColour fills the bars of the paper-ledger charts.
	PaperBarColour = "#d97706"
	// LedgerDueColour is the background of the shredding warning band.
	LedgerDueColour = "#7c2d12"
)

// ledgerView is the ledger part of the status page.
type ledgerView struct {
	Have       bool // the device keeps a paper ledger
	CanChange  bool // a PIN is configured and the page may change the ledger
	Due        []ledger.Sheet
	Sheets     []sheetRow
	Today      string
	PaperToday int
	PaperDays  int
	HourChart  template.HTML
	DaysChart  template.HTML
	Message    string
	Error      string
}

type sheetRow struct {
	ledger.Sheet
	DueNow    bool
	LastEntry string
}

// ledgerMessages are the outcomes a ledger form may report back to the page.
var ledgerMessages = map[string]bool{"ledger.added": true, "ledger.started": true, "ledger.shredded": true}

func (s *Server) ledgerView(r *http.Request, lang string, snap Snapshot) ledgerView {
	v := ledgerView{Have: snap.Ledger != nil, CanChange: s.o.Ledger != nil && s.o.PIN != ""}
	if m := r.URL.Query().Get("ledger"); ledgerMessages[m] {
		v.Message = T(lang, m)
	}
	if e := r.URL.Query().Get("ledger_error"); e != "" {
		v.Error = T(lang, "ledger.error."+e)
	}
	if snap.Ledger != nil {
		v.Today = snap.Ledger.Today
		for _, sh := range snap.Ledger.Sheets {
			row := sheetRow{Sheet: sh, DueNow: sh.Open() && v.Today >= sh.DestroyBy, LastEntry: "—"} // Today: the agent's trusted day
			if !sh.LastEntry.IsZero() {
				row.LastEntry = sh.LastEntry.In(s.o.Location).Format("2006-01-02 15:04")
			}
			if row.DueNow {
				v.Due = append(v.Due, sh)
			}
			v.Sheets = append(v.Sheets, row)
		}
	}
	if s.o.Paper != nil {
		c, err := Summarize(s.o.Paper, snap.At, s.o.Location, Days)
		if err != nil {
			s.o.Log.Warn("status page: paper counts", "err", err)
			return v
		}
		v.Have = true
		v.PaperToday = c.TodayTotal()
		dayVals, dayLabels := make([]int, len(c.Days)), make([]string, len(c.Days))
		for i, d := range c.Days {
			dayVals[i], dayLabels[i] = d.Count, d.Day.Format("1/2")
			v.PaperDays += d.Count
		}
		v.HourChart = Chart{Values: c.Hours[:], Labels: HourLabels(), Colour: PaperBarColour,
			Width: 720, Height: 160, Title: T(lang, "chart.paper.today"), ValueLabels: true}.SVG()
		v.DaysChart = Chart{Values: dayVals, Labels: dayLabels, Colour: PaperBarColour,
			Width: 720, Height: 140, Title: T(lang, "chart.paper.days"), ValueLabels: true}.SVG()
	}
	return v
}

// ledgerAllowed answers the form or API request with 403 unless it carries
// an unlocked session or the right PIN (in the form's "pin" field or the
// X-KIPass-PIN header), from the same origin. Wrong PINs count towards the
// lockout like the settings' unlock.
func (s *Server) ledgerAllowed(w http.ResponseWriter, r *http.Request) bool {
	if s.o.Ledger == nil {
		http.Error(w, "this device keeps no paper ledger", http.StatusNotFound)
		return false
	}
	if !sameOrigin(r) {
		http.Error(w, "forbidden", http.StatusForbidden)
		return false
	}
	if s.guard.valid(s.session(r)) {
		return true
	}
	pin := r.Header.Get(PINHeader)
	if pin == "" {
		pin = r.PostFormValue("pin")
	}
	id, err := s.guard.login(clientOf(r), pin)
	if err != nil {
		code := http.StatusForbidden
		if errors.Is(err, ErrLocked) {
			code = http.StatusTooManyRequests
		}
		s.o.Log.Warn("status page: ledger change refused", "err", err)
		http.Error(w, "the paper ledger needs the manager PIN: "+err.Error(), code)
		return false
	}
	s.guard.logout(id) // one request, no session kept
	return true
}

// PINHeader carries the manager PIN of a CLI request to /api/ledger/*.
const PINHeader = "X-KIPass-PIN"

// LedgerReport is the body of GET /api/ledger and of the CLI's changes.
type LedgerReport struct {
	// Ledger is the sheets; nil when the device keeps none.
	Ledger *Ledger `json:"ledger"`
	// Paper are the paper visits by hour and day, beside Counts.
	Paper Counts `json:"paper"`
	// Added is the number of paper visits just added (POST /api/ledger/paper).
	Added int `json:"added,omitempty"`
	// Sheet is the sheet just started or shredded.
	Sheet *ledger.Sheet `json:"sheet,omitempty"`
}

// PaperRequest is the body of POST /api/ledger/paper.
type PaperRequest struct {
	// N is the number of paper visits to add (1 when 0).
	N int `json:"n"`
}

// SheetRequest is the body of POST /api/ledger/sheets and /api/ledger/shredded.
type SheetRequest struct {
	// Date is the sheet's date, YYYY-MM-DD ("" for today when starting).
	Date string `json:"date"`
}

func (s *Server) ledgerReport() LedgerReport {
	snap := s.o.Source.Snapshot()
	rep := LedgerReport{Ledger: snap.Ledger}
	if s.o.Paper != nil {
		if c, err := Summarize(s.o.Paper, snap.At, s.o.Location, Days); err == nil {
			rep.Paper = c
		}
	}
	return rep
}

func (s *Server) handleLedgerAPI(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.ledgerReport())
}

// handleLedgerChange serves the CLI's POST /api/ledger/{what}: "paper",
// "sheets" (start) or "shredded".
func (s *Server) handleLedgerChange(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get(PINHeader) == "" {
		// A custom header cannot be sent cross-site without a preflight,
		// which this server never grants.
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "send the manager PIN in " + PINHeader})
		return
	}
	if !s.ledgerAllowed(w, r) {
		return
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	var rep LedgerReport
	var err error
	switch r.PathValue("what") {
	case "paper":
		var req PaperRequest
		if err = dec.Decode(&req); err == nil {
			if req.N == 0 {
				req.N = 1
			}
			if err = s.o.Ledger.AddPaper(req.N); err == nil {
				rep.Added = req.N
			}
		}
	case "sheets", "shredded":
		var req SheetRequest
		if err = dec.Decode(&req); err == nil {
			var sh ledger.Sheet
			if r.PathValue("what") == "sheets" {
				sh, err = s.o.Ledger.StartSheet(req.Date)
			} else {
				sh, err = s.o.Ledger.Shredded(req.Date)
			}
			rep.Sheet = &sh
		}
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	full := s.ledgerReport()
	full.Added, full.Sheet = rep.Added, rep.Sheet
	writeJSON(w, http.StatusOK, full)
}

// handleLedgerForm serves the page's PIN-guarded forms: POST
// /settings/ledger/{what}, then back to the page with the outcome.
func (s *Server) handleLedgerForm(w http.ResponseWriter, r *http.Request) {
	if !s.ledgerAllowed(w, r) {
		return
	}
	lang := s.lang(r)
	var err error
	outcome := ""
	switch r.PathValue("what") {
	case "paper":
		n, perr := strconv.Atoi(r.PostFormValue("n"))
		if perr != nil || n == 0 {
			n = 1
		}
		err, outcome = s.o.Ledger.AddPaper(n), "ledger.added"
	case "sheet":
		_, err = s.o.Ledger.StartSheet(strings.TrimSpace(r.PostFormValue("date")))
		outcome = "ledger.started"
	case "shredded":
		_, err = s.o.Ledger.Shredded(r.PostFormValue("date"))
		outcome = "ledger.shredded"
	default:
		http.NotFound(w, r)
		return
	}
	q := url.Values{"lang": {lang}}
	switch {
	case err == nil:
		q.Set("ledger", outcome)
	case errors.Is(err, ledger.ErrDate):
		q.Set("ledger_error", "date")
	case errors.Is(err, ledger.ErrSheetExists):
		q.Set("ledger_error", "exists")
	case errors.Is(err, ledger.ErrNoSheet):
		q.Set("ledger_error", "nosheet")
	default:
		s.o.Log.Error("status page: ledger change failed", "err", err)
		q.Set("ledger_error", "failed")
	}
	http.Redirect(w, r, "/?"+q.Encode()+"#ledger", http.StatusSeeOther)
}

// codesView is the printable sheet of control codes.
type codesView struct {
	Lang, Other string
	Refresh     bool
	Facility    string
	Device      string
	Codes       []codeCard
}

type codeCard struct {
	Label, Hint string
	Image       template.URL
}

// handleLedgerCodes shows the control codes to print for the ledger's
// cover, behind an unlocked settings session.
func (s *Server) handleLedgerCodes(w http.ResponseWriter, r *http.Request) {
	if !s.unlocked(w, r) {
		return
	}
	if s.o.Ledger == nil {
		http.NotFound(w, r)
		return
	}
	lang := s.lang(r)
	snap := s.o.Source.Snapshot()
	v := codesView{Lang: lang, Other: otherLang(lang), Facility: snap.Facility, Device: snap.Device}
	codes := s.o.Ledger.ControlCodes()
	for _, a := range ledger.Actions {
		img, err := screen.QR(codes[a], 330)
		if err != nil {
			http.Error(w, "the control code could not be drawn", http.StatusInternalServerError)
			return
		}
		var buf bytes.Buffer
		png.Encode(&buf, img)
		v.Codes = append(v.Codes, codeCard{Label: T(lang, "code."+string(a)), Hint: T(lang, "code.hint."+string(a)),
			Image: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()))})
	}
	s.render(w, "codes", v)
}
