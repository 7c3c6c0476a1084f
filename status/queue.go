package status

import (
	"net"
	"net/http"

	"github.com/kipass/kipass/queue"
)

// QueueCounts are the queue's records by where they are (counts only),
// as the queue defines them.
type QueueCounts = queue.Counts

// QueueAdmin gives the installer's view of the queue (`kipass-agent queue`).
type QueueAdmin interface {
	// QueueCounts counts the queue's records.
	QueueCounts() (QueueCounts, error)
	// ResendDead queues the dead letters again and says how many.
	ResendDead() (int, error)
}

// ResendReport answers POST /api/queue/resend-dead.
type ResendReport struct {
	// Resent is the number of dead letters queued again.
	Resent int `json:"resent"`
}

func (s *Server) handleQueue(w http.ResponseWriter, r *http.Request) {
	if s.o.Queue == nil {
		writeJSON(w, http.StatusNotImplemented, map[string]string{"error": "this agent has no queue view"})
		return
	}
	c, err := s.o.Queue.QueueCounts()
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "the queue cannot be read"})
		return
	}
	writeJSON(w, http.StatusOK, c)
}

// handleResendDead sends the dead letters again; only from this device
// (a loopback client), as it changes what is sent to central.
func (s *Server) handleResendDead(w http.ResponseWriter, r *http.Request) {
	if s.o.Queue == nil {
		writeJSON(w, http.StatusNotImplemented, map[string]string{"error": "this agent has no queue view"})
		return
	}
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "dead letters are sent again only from the device itself"})
		return
	}
	n, err := s.o.Queue.ResendDead()
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "the dead letters could not be queued again"})
		return
	}
	if s.o.Drainer != nil {
		s.o.Drainer.Flush()
	}
	writeJSON(w, http.StatusOK, ResendReport{Resent: n})
}
