package central

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/kipass/kipass/central/api"
)

// Sender delivers an outbox notice to a facility's representative.
type Sender interface {
	// Send delivers n; an error leaves it in the outbox for the next round.
	Send(ctx context.Context, n Notice) error
}

// LogSender is the default Sender: it writes each notice to the log (the
// facility and branch, not the phone number or the text), for an operator
// who relays them by hand.
type LogSender struct{ Log *slog.Logger }

// Send implements Sender.
func (l LogSender) Send(_ context.Context, n Notice) error {
	l.Log.Warn("branch registered under an existing business number; notice for the representative",
		"notice", n.ID, "facility", n.Facility, "branch", n.Branch)
	return nil
}

// FileSender appends each notice as a JSON line to a file (created 0600),
// for an operator's mail merge or SMS batch.
type FileSender struct {
	Path string
	mu   sync.Mutex
}

// Send implements Sender.
func (f *FileSender) Send(_ context.Context, n Notice) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, err := json.Marshal(n)
	if err != nil {
		return err
	}
	fh, err := os.OpenFile(f.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("notice file: %w", err)
	}
	if _, err := fh.Write(append(b, '\n')); err != nil {
		fh.Close()
		return fmt.Errorf("notice file: %w", err)
	}
	if err := fh.Sync(); err != nil {
		fh.Close()
		return fmt.Errorf("notice file: %w", err)
	}
	return fh.Close()
}

// WebhookMessage is the JSON body WebhookSender posts to an SMS gateway.
type WebhookMessage struct {
	// ID is the notice id: a gateway may deduplicate by it (a notice is
	// posted again when an answer was lost).
	ID string `json:"id"`
	// To is the representative's phone number; Text the message.
	To   string `json:"to"`
	Text string `json:"text"`
}

// WebhookSender posts each notice as a WebhookMessage to an HTTP endpoint,
// such as an SMS gateway; any 2xx answer is delivery.
type WebhookSender struct {
	URL string
	// Token, when set, is sent as "Authorization: Bearer <Token>".
	Token string
	// Client is the HTTP client; one with a 10 s timeout when nil.
	Client *http.Client
}

// Send implements Sender.
func (w WebhookSender) Send(ctx context.Context, n Notice) error {
	b, _ := json.Marshal(WebhookMessage{ID: n.ID, To: n.Phone, Text: n.Text})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("notice webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if w.Token != "" {
		req.Header.Set("Authorization", "Bearer "+w.Token)
	}
	c := w.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("notice webhook: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("notice webhook: HTTP %d", resp.StatusCode)
	}
	return nil
}

// branchNotice is the notice to the representative of the earliest active
// facility under f's business number, if there is one.
func (s *Server) branchNotice(ctx context.Context, f api.Facility) ([]Notice, error) {
	if f.BusinessNumber == "" {
		return nil, nil
	}
	fs, err := s.st.FacilitiesByNumber(ctx, f.BusinessNumber)
	if err != nil {
		return nil, err
	}
	for _, e := range fs {
		if e.Status != api.FacilityActive {
			continue
		}
		b := make([]byte, 4)
		rand.Read(b)
		num := f.BusinessNumber[:3] + "-" + f.BusinessNumber[3:5] + "-" + f.BusinessNumber[5:]
		return []Notice{{
			ID: fmt.Sprintf("N-%020d-%s", f.CreatedAt.UnixNano(), hex.EncodeToString(b)), Facility: e.ID, Branch: f.ID,
			Phone: e.Phone, Representative: e.Representative, CreatedAt: f.CreatedAt,
			Text: fmt.Sprintf("[KI-Pass] %s님, 사업자등록번호 %s로 새 지점 '%s'(%s)이 등록되었습니다. "+
				"귀하가 등록한 지점이 아니면 이의를 제기하세요: 지점 %s (POST %s).",
				e.Representative, num, f.Name, f.Address, f.ID, api.FacilityPath(f.ID, "dispute")),
		}}, nil
	}
	return nil, nil
}

// SendNotices hands every unsent notice of the outbox to the sender once
// and records the outcome; it returns how many were sent.
func (s *Server) SendNotices(ctx context.Context) (int, error) {
	ns, err := s.st.Notices(ctx, true, 100)
	if err != nil {
		return 0, err
	}
	sent := 0
	for _, n := range ns {
		err := s.opts.Sender.Send(ctx, n)
		n.Attempts++
		if err != nil {
			n.LastError = err.Error()
			s.opts.Log.Warn("notice not sent; retrying later", "notice", n.ID, "attempts", n.Attempts, "err", err)
		} else {
			n.SentAt, n.LastError = s.opts.Clock.Now(), ""
			sent++
		}
		if err := s.st.UpdateNotice(ctx, n); err != nil {
			return sent, err
		}
	}
	return sent, nil
}

// runOutbox sends the outbox every OutboxEvery until ctx ends.
func (s *Server) runOutbox(ctx context.Context) error {
	for {
		if _, err := s.SendNotices(ctx); err != nil && ctx.Err() == nil {
			s.opts.Log.Error("outbox failed; retrying at the next tick", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.opts.Clock.After(s.opts.OutboxEvery):
		}
	}
}

// handleDispute lets the manager of an earlier active facility under the
// same business number dispute branch {id}: the branch is held
// ("disputed") until an operator decides.
func (s *Server) handleDispute(w http.ResponseWriter, r *http.Request, p principal) {
	var req api.DisputeRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if why := checkText(req.Reason, 200, true); why != "" {
		badField(w, "reason", why)
		return
	}
	id := r.PathValue("id")
	branch, err := s.st.Facility(r.Context(), id)
	if errors.Is(err, ErrNotFound) {
		writeError(w, http.StatusNotFound, "unknown_facility", "no such facility")
		return
	} else if err != nil {
		s.storeFailed(w, "read the facility", err)
		return
	}
	mine, err := s.st.Facility(r.Context(), p.facility)
	if err != nil {
		s.storeFailed(w, "read the facility", err)
		return
	}
	if id == p.facility || mine.Status != api.FacilityActive || mine.BusinessNumber == "" ||
		mine.BusinessNumber != branch.BusinessNumber || !mine.CreatedAt.Before(branch.CreatedAt) {
		writeError(w, http.StatusForbidden, "forbidden", "only the manager of an earlier active facility under the same business number may dispute a branch")
		return
	}
	if branch.Status == api.FacilityRemoved {
		writeError(w, http.StatusConflict, "facility_removed", "the branch was already removed")
		return
	}
	if err := s.st.SetFacilityStatus(r.Context(), id, api.FacilityDisputed); err != nil {
		s.storeFailed(w, "dispute the branch", err)
		return
	}
	s.opts.Log.Warn("branch disputed; held until an operator decides", "branch", id, "by", p.facility, "reason", strings.TrimSpace(req.Reason))
	branch.Status = api.FacilityDisputed
	writeJSON(w, http.StatusOK, branch)
}

// handleDecide is the operator's decision on a disputed or held branch.
func (s *Server) handleDecide(w http.ResponseWriter, r *http.Request, p principal) {
	var req api.Decision
	if !decodeBody(w, r, &req) {
		return
	}
	status := ""
	switch req.Decision {
	case api.DecisionKeep:
		status = api.FacilityActive
	case api.DecisionRemove:
		status = api.FacilityRemoved
	default:
		writeError(w, http.StatusBadRequest, "bad_decision", `decision must be "keep" or "remove"`)
		return
	}
	id := r.PathValue("id")
	f, err := s.st.Facility(r.Context(), id)
	if errors.Is(err, ErrNotFound) {
		writeError(w, http.StatusNotFound, "unknown_facility", "no such facility")
		return
	} else if err != nil {
		s.storeFailed(w, "read the facility", err)
		return
	}
	if f.Status != api.FacilityDisputed && f.Status != api.FacilityHeld {
		writeError(w, http.StatusConflict, "not_disputed", "only a disputed or held facility waits for a decision; this one is "+f.Status)
		return
	}
	if err := s.st.SetFacilityStatus(r.Context(), id, status); err != nil {
		s.storeFailed(w, "decide", err)
		return
	}
	s.opts.Log.Info("operator decided on a branch", "facility", id, "decision", req.Decision, "by", p.name)
	f.Status = status
	writeJSON(w, http.StatusOK, f)
}
