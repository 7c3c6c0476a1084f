package status

import (
	"github.com/kipass/kipass/ledger"
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
