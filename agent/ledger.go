package agent

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/kipass/kipass/audio"
	"github.com/kipass/kipass/central/api"
	"github.com/kipass/kipass/clock"
	"github.com/kipass/kipass/ledger"
	"github.com/kipass/kipass/queue"
	"github.com/kipass/kipass/status"
)

// Ledger is the paper ledger beside the scanner (ledger.Codes and
// ledger.Book provide it): it checks staff control codes and notes paper
// visits on the current sheet.
type Ledger interface {
	// Check returns the action of a control code made for this device.
	Check(text string) (ledger.Action, error)
	// Entry notes n paper visits on the current sheet.
	Entry(n int) error
}

// Thresholds of the ledger prompts.
const (
	// LedgerReminderEvery is the least time between two "수기 명부를
	// 작성해 주세요" prompts.
	LedgerReminderEvery = time.Minute
	// CameraDownFor is how long the camera must be down before visitors
	// are sent to the paper ledger.
	CameraDownFor = 30 * time.Second
	// MaxPaperAtOnce caps one AddPaper call.
	MaxPaperAtOnce = 50
)

// ErrPaperCount is returned for a paper visit count out of 1..MaxPaperAtOnce.
var ErrPaperCount = errors.New("paper visits to add must be 1 to 50")

// ledgerState is the agent's side of the paper ledger.
type ledgerState struct {
	codes  *ledger.Codes // nil without a paperLedger in Parts
	book   *ledger.Book
	counts paperCounts // paper series of the durable queue

	mu         sync.Mutex
	lastRemind time.Time
	paper      int64 // paper visits recorded since start
}

// paperLedger joins the codes and the sheets into a Ledger; New gives
// the status page its sheets, control codes and paper series.
type paperLedger struct {
	codes  *ledger.Codes
	book   *ledger.Book
	counts paperCounts
}

// Check implements Ledger.
func (l paperLedger) Check(text string) (ledger.Action, error) { return l.codes.Check(text) }

// Entry implements Ledger.
func (l paperLedger) Entry(n int) error { return l.book.Entry(n) }

// openLedger opens the ledger key (DATA_DIR/ledger.key) and sheets
// (DATA_DIR/ledger.json) for Open; trusted ages the sheets (the trust
// clock's corrected time).
func openLedger(cfg Config, q *queue.Queue, trusted clock.Clock) (paperLedger, error) {
	codes, err := ledger.OpenCodes(filepath.Join(cfg.DataDir, "ledger.key"), cfg.Facility, cfg.Device)
	if err != nil {
		return paperLedger{}, err
	}
	book, err := ledger.OpenBook(filepath.Join(cfg.DataDir, "ledger.json"), trusted)
	if err != nil {
		return paperLedger{}, err
	}
	return paperLedger{codes: codes, book: book, counts: paperCounts{q: q, device: cfg.Device}}, nil
}

// handleControl acts on a staff control code (HandleText found the
// prefix). It is never judged as a visitor token.
func (a *Agent) handleControl(text string) {
	if a.p.Ledger == nil {
		a.say(audio.ControlRefused)
		a.o.Log.Warn("control code refused: this device keeps no paper ledger")
		return
	}
	act, err := a.p.Ledger.Check(text)
	switch {
	case err != nil:
		a.o.Log.Warn("control code refused", "err", err)
		a.say(audio.ControlRefused)
	case act == ledger.NoPhone:
		a.o.Log.Info("ledger instructions for a visitor without a phone")
		a.say(audio.LedgerInstructions)
	case act == ledger.Paper:
		if _, err := a.RecordPaper(1, "control code"); err != nil {
			a.o.Log.Error("paper visit could not be recorded", "err", err)
		}
	}
}

// RecordPaper records n visitors who signed the paper ledger (staff's
// control code, the page's button or `kipass-agent ledger add`): each is a
// queue record of kind paper, with no token, forwarded to central. It
// speaks once: the ledger prompt when the device cannot record, otherwise
// "paper visit counted". It returns how many were recorded.
func (a *Agent) RecordPaper(n int, via string) (int, error) {
	if n < 1 || n > MaxPaperAtOnce {
		return 0, ErrPaperCount
	}
	now := a.o.Clock.Now()
	corrected := now
	if a.o.Time != nil {
		corrected = a.o.Time.Correct(now)
	}
	done := 0
	var err error
	for ; done < n; done++ {
		id, rerr := paperID()
		if rerr != nil {
			err = rerr
			break
		}
		_, err = a.p.Store.Enqueue(queue.Record{Scan: api.Scan{ID: id, Facility: a.o.Facility, Device: a.o.Device,
			DeviceTime: now, CorrectedTime: corrected, Kind: queue.KindPaper}})
		if err != nil {
			break
		}
	}
	if done > 0 {
		a.led.mu.Lock()
		a.led.paper += int64(done)
		a.led.mu.Unlock()
		if a.p.Ledger != nil {
			if lerr := a.p.Ledger.Entry(done); lerr != nil {
				a.o.Log.Warn("ledger sheet not updated", "err", lerr)
			}
		}
		if a.p.Sender != nil {
			a.p.Sender.Kick()
		}
	}
	if err != nil {
		a.storeFailures.Add(1)
		if a.obs != nil {
			a.obs.noteStoreFailure(now)
		}
		a.remindOr(now, audio.StorageFailure)
		return done, fmt.Errorf("record paper visit: %w", err)
	}
	a.o.Log.Info("paper visits recorded", "count", done, "via", via)
	if a.cannotRecord(now) != "" {
		a.remindOr(now, audio.PaperRecorded)
	} else {
		a.say(audio.PaperRecorded)
	}
	return done, nil
}

// paperID is a paper visit's idempotency key: random, made once at the
// door and kept with the record, so a resent visit is counted once.
func paperID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("paper visit id: %w", err)
	}
	return api.PaperIDPrefix + hex.EncodeToString(b), nil
}

// cannotRecord says why visitors must use the paper ledger now: a storage
// problem, central refusing the device (not registered), or the camera
// down for more than CameraDownFor; "" when the device records.
func (a *Agent) cannotRecord(now time.Time) string {
	if a.obs == nil {
		return ""
	}
	s := a.Snapshot()
	switch {
	case s.Storage.Problem != "":
		return "storage: " + s.Storage.Problem
	case s.State() == status.NotRegistered:
		return "not registered"
	case a.p.Frames != nil && s.Camera.Problem != "" && now.Sub(maxTime(s.Camera.LastFrame, s.Started)) > CameraDownFor:
		return "camera: " + s.Camera.Problem
	}
	return ""
}

// remindOr plays "수기 명부를 작성해 주세요" unless it was played less than
// LedgerReminderEvery ago, in which case it plays p.
func (a *Agent) remindOr(now time.Time, p audio.Prompt) audio.Prompt {
	a.led.mu.Lock()
	if a.led.lastRemind.IsZero() || now.Sub(a.led.lastRemind) >= LedgerReminderEvery {
		a.led.lastRemind, p = now, audio.LedgerPlease
	}
	a.led.mu.Unlock()
	a.say(p)
	return p
}

func (a *Agent) say(p audio.Prompt) {
	if err := a.p.Speaker.Say(p); err != nil {
		a.o.Log.Warn("speaker failed", "err", err)
	}
}

// PaperRecorded is the number of paper visits recorded since start.
func (a *Agent) PaperRecorded() int64 {
	a.led.mu.Lock()
	defer a.led.mu.Unlock()
	return a.led.paper
}

// ledgerSnapshot is the ledger part of the snapshot; nil without a book.
func (a *Agent) ledgerSnapshot() *status.Ledger {
	b := a.led.book
	if b == nil {
		return nil
	}
	l := &status.Ledger{Sheets: b.Sheets(), Today: b.Today()}
	l.Due = len(b.Due())
	return l
}

// ledgerControl is the page's handle on the ledger; nil without one.
func (a *Agent) ledgerControl() status.LedgerControl {
	if a.led.book == nil {
		return nil
	}
	return ledgerControl{a}
}

// paperCounter is the page's paper series; nil without a ledger.
func (a *Agent) paperCounter() status.Counter {
	if a.led.counts.q == nil {
		return nil
	}
	return a.led.counts
}

// paperCounts reads the paper-ledger visits from the durable queue's
// hourly counters.
type paperCounts struct {
	q      *queue.Queue
	device string
}

// HourlyCounts returns this device's paper visits of the hours starting in [from, to).
func (c paperCounts) HourlyCounts(from, to time.Time) ([]status.HourCount, error) {
	hs, err := c.q.HourlyCounts(from, to)
	if err != nil {
		return nil, err
	}
	var out []status.HourCount
	for _, h := range hs {
		if h.Paper > 0 {
			out = append(out, status.HourCount{Hour: h.Hour, Device: c.device, Count: h.Paper})
		}
	}
	return out, nil
}

// ledgerControl adapts the agent to status.LedgerControl.
type ledgerControl struct{ a *Agent }

// AddPaper implements status.LedgerControl.
func (c ledgerControl) AddPaper(n int) error {
	_, err := c.a.RecordPaper(n, "status page")
	return err
}

// StartSheet implements status.LedgerControl.
func (c ledgerControl) StartSheet(date string) (ledger.Sheet, error) {
	s, err := c.a.led.book.Start(date)
	if err == nil {
		c.a.o.Log.Info("ledger sheet started", "date", s.Date, "destroy_by", s.DestroyBy)
	}
	return s, err
}

// Shredded implements status.LedgerControl.
func (c ledgerControl) Shredded(date string) (ledger.Sheet, error) {
	s, err := c.a.led.book.Shredded(date)
	if err == nil {
		c.a.o.Log.Info("ledger sheet shredded", "date", s.Date)
	}
	return s, err
}

// ControlCodes implements status.LedgerControl.
func (c ledgerControl) ControlCodes() map[ledger.Action]string {
	out := map[ledger.Action]string{}
	for _, act := range ledger.Actions {
		out[act] = c.a.led.codes.Make(act)
	}
	return out
}

// ledgerSheets are the snapshot's sheets for the heartbeat.
func ledgerSheets(l *status.Ledger) []api.Sheet {
	if l == nil {
		return nil
	}
	return l.Sheets
}

// noteStoreFailure keeps a failed recording on the state line.
func (o *observer) noteStoreFailure(at time.Time) {
	o.mu.Lock()
	o.lastStoreErr = at
	o.mu.Unlock()
}
