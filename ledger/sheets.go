package ledger

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/clock"
)

// Keep is how long a paper sheet is kept after its last entry: 4 weeks,
// then it must be shredded or burned.
const Keep = 28 * 24 * time.Hour

// KeepShredded is how long the device remembers a shredded sheet (its
// date and the confirmation), so central hears of it, before forgetting it.
const KeepShredded = 28 * 24 * time.Hour

// DateLayout is the layout of a sheet's date and its destroy date.
const DateLayout = "2006-01-02"

// KST is the zone of the sheet dates.
var KST = api.KST

// The errors of Book.
var (
	// ErrDate: the date is not YYYY-MM-DD, or lies in the future.
	ErrDate = errors.New("sheet date")
	// ErrNoSheet: no sheet of that date is open.
	ErrNoSheet = errors.New("no open sheet of that date")
	// ErrSheetExists: a sheet of that date was started already.
	ErrSheetExists = errors.New("a sheet of that date exists")
)

// Sheet is one sheet of the paper ledger as the device knows it and
// reports it to central: dates and counts only, never what is written on it.
type Sheet = api.Sheet

// setDestroyBy dates the day s must be shredded: Keep after its last entry
// (after its date when it has none).
func setDestroyBy(s *Sheet) {
	from, _ := time.ParseInLocation(DateLayout, s.Date, KST)
	if !s.LastEntry.IsZero() {
		from = s.LastEntry.In(KST)
	}
	d := from.Add(Keep)
	s.DestroyBy = time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, KST).Format(DateLayout)
}

// Book keeps the sheets in a small JSON file, rewritten whole (fsync and
// rename) at every change. It is safe for concurrent use.
type Book struct {
	path string
	clk  clock.Clock

	mu     sync.Mutex
	sheets []Sheet
}

// OpenBook reads the sheets kept at path (none when the file does not
// exist). clk gives trusted time: it dates entries and confirmations and
// decides which day it is.
func OpenBook(path string, clk clock.Clock) (*Book, error) {
	if clk == nil {
		clk = clock.Real{}
	}
	b := &Book{path: path, clk: clk}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("ledger sheets: %w", err)
	default:
		if err := json.Unmarshal(data, &b.sheets); err != nil {
			return nil, fmt.Errorf("ledger sheets: %s is damaged: %w", path, err)
		}
	}
	return b, nil
}

// Today is the current day (KST) by the book's clock, YYYY-MM-DD.
func (b *Book) Today() string { return b.clk.Now().In(KST).Format(DateLayout) }

// Start begins a new sheet dated date (YYYY-MM-DD; "" means today). Later
// paper visits are entered on it.
func (b *Book) Start(date string) (Sheet, error) {
	today := b.Today()
	if date == "" {
		date = today
	}
	if _, err := time.ParseInLocation(DateLayout, date, KST); err != nil {
		return Sheet{}, fmt.Errorf("%w: %q is not YYYY-MM-DD", ErrDate, date)
	}
	if date > today {
		return Sheet{}, fmt.Errorf("%w: %s is in the future (today is %s)", ErrDate, date, today)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range b.sheets {
		if s.Date == date {
			return Sheet{}, fmt.Errorf("%w: %s", ErrSheetExists, date)
		}
	}
	s := Sheet{Date: date}
	setDestroyBy(&s)
	next := append(append([]Sheet(nil), b.sheets...), s)
	if err := b.save(next); err != nil {
		return Sheet{}, err
	}
	return s, nil
}

// Entry notes n paper visits at the current time on the newest open
// sheet, which moves its destroy date. Without an open sheet it does
// nothing: the visit is counted all the same.
func (b *Book) Entry(n int) error {
	now := b.clk.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	i := b.current()
	if i < 0 || n <= 0 {
		return nil
	}
	next := append([]Sheet(nil), b.sheets...)
	next[i].Entries += n
	next[i].LastEntry = now.UTC()
	setDestroyBy(&next[i])
	return b.save(next)
}

// current returns the index of the newest open sheet, or -1.
func (b *Book) current() int {
	best := -1
	for i, s := range b.sheets {
		if s.Open() && (best < 0 || s.Date > b.sheets[best].Date) {
			best = i
		}
	}
	return best
}

// Shredded records the manager's confirmation that the open sheet of date
// was shredded or burned. The device keeps only the date and the time.
func (b *Book) Shredded(date string) (Sheet, error) {
	now := b.clk.Now().UTC()
	b.mu.Lock()
	defer b.mu.Unlock()
	next := append([]Sheet(nil), b.sheets...)
	for i, s := range next {
		if s.Date == date && s.Open() {
			next[i].ShreddedAt = now
			if err := b.save(next); err != nil {
				return Sheet{}, err
			}
			return next[i], nil
		}
	}
	return Sheet{}, fmt.Errorf("%w: %q", ErrNoSheet, date)
}

// Sheets returns the open sheets and the recently shredded ones, oldest
// first. Sheets shredded more than KeepShredded ago are forgotten.
func (b *Book) Sheets() []Sheet {
	now := b.clk.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []Sheet
	for _, s := range b.sheets {
		if s.Open() || now.Sub(s.ShreddedAt) < KeepShredded {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Date < out[j].Date })
	return out
}

// Due returns the open sheets that must be shredded today or earlier.
func (b *Book) Due() []Sheet {
	now := b.clk.Now()
	var out []Sheet
	for _, s := range b.Sheets() {
		if s.Due(now) {
			out = append(out, s)
		}
	}
	return out
}

// save writes sheets (dropping long-shredded ones) and adopts them.
func (b *Book) save(sheets []Sheet) error {
	now := b.clk.Now()
	keep := sheets[:0:0]
	for _, s := range sheets {
		if s.Open() || now.Sub(s.ShreddedAt) < KeepShredded {
			keep = append(keep, s)
		}
	}
	data, err := json.MarshalIndent(keep, "", "  ")
	if err != nil {
		return fmt.Errorf("ledger sheets: %w", err)
	}
	if err := writeFile(b.path, data, 0o600); err != nil {
		return fmt.Errorf("ledger sheets: %w", err)
	}
	b.sheets = keep
	return nil
}
