package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/kipass/kipass/camera"
	"github.com/kipass/kipass/camera/engine"
	"github.com/kipass/kipass/clock"
	"github.com/kipass/kipass/status"
)

// ScannerHealth reports a scan engine's own view of its health.
type ScannerHealth interface {
	// CameraHealth returns "ok", "reopening" or "absent" and the reason
	// when not ok (the engine reports in the camera package's words).
	CameraHealth() (state, problem string)
}

// scanWatch is what a scan-engine device shows instead of a camera: the
// engine's health (open, reopening, disconnected) and the codes it read.
type scanWatch struct {
	spec   string
	health ScannerHealth
	clk    clock.Clock

	mu       sync.Mutex
	codes    int64
	lastCode time.Time
	ended    bool
}

func newScanWatch(spec string, h ScannerHealth, clk clock.Clock) *scanWatch {
	return &scanWatch{spec: spec, health: h, clk: clk}
}

// snapshot is the engine's state for the status page.
func (w *scanWatch) snapshot() *status.Scanner {
	state, reason := "ok", ""
	if w.health != nil {
		state, reason = w.health.CameraHealth()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	s := &status.Scanner{Source: w.spec, Codes: w.codes, LastCode: w.lastCode}
	switch {
	case w.ended:
		s.State = "ended"
	case state == camera.StateStarting.String():
		s.State = "starting" // not opened yet: no problem
	case state == camera.StateReopening.String():
		s.State, s.Problem = "reopening", "the scanner is being reopened"
	case state == camera.StateAbsent.String():
		s.State, s.Problem = "disconnected", "the scanner is disconnected"
	default:
		s.State = "open"
	}
	if s.Problem != "" && reason != "" {
		s.Problem = fmt.Sprintf("%s: %s", s.Problem, reason)
	}
	return s
}

// watchedCodes counts the codes a scan engine delivers and notes its end.
type watchedCodes struct {
	Codes
	w *scanWatch
}

// Next reads a code and notes its arrival or the end of the input.
func (c watchedCodes) Next(ctx context.Context) (engine.Code, error) {
	code, err := c.Codes.Next(ctx)
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	switch {
	case err == nil:
		c.w.codes++
		c.w.lastCode = c.w.clk.Now()
	case errors.Is(err, io.EOF):
		c.w.ended = true
	}
	return code, err
}
