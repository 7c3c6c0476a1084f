// Package status is the agent's local status page, its Prometheus metrics
// and the small JSON API the CLI reads. It shows whether the door works:
// one big state line, the queue, the last upload and visitor counts by hour,
// by day and by entrance device. It never shows, logs or exports a visitor,
// a token or a scan id: a Snapshot has no field that could hold one.
package status

import "time"

// State is the one line a manager reads first.
type State string

// The states, worst first when several apply.
const (
	// StorageProblem: scans cannot be recorded (the queue fails or is full).
	StorageProblem State = "storage_problem"
	// NotRegistered: central answered and refused this device (no
	// credential, or one it does not accept); scans are kept on the device
	// but can never be delivered until the device is enrolled.
	NotRegistered State = "not_registered"
	// ClockProblem: the device clock is wrong, so tokens are judged wrongly.
	ClockProblem State = "clock_problem"
	// CameraProblem: no frames arrive from the camera.
	CameraProblem State = "camera_problem"
	// ScannerProblem: the scan engine (serial, evdev) is disconnected or
	// being reopened.
	ScannerProblem State = "scanner_problem"
	// OfflineRecording: central is unreachable; scans are kept on the device.
	OfflineRecording State = "offline_recording"
	// Scanning: everything works.
	Scanning State = "scanning"
)

// States lists every State, worst first.
var States = []State{StorageProblem, NotRegistered, ClockProblem, CameraProblem, ScannerProblem, OfflineRecording, Scanning}

// Snapshot is the agent's state at one instant, as the page, the metrics
// and the CLI show it. It holds counts, times and short state words only.
type Snapshot struct {
	// At is when the snapshot was taken (device clock).
	At time.Time `json:"at"`
	// Facility, Device and Entrance name the door.
	Facility string `json:"facility"`
	Device   string `json:"device"`
	Entrance string `json:"entrance,omitempty"`
	// Started is when the agent started.
	Started time.Time `json:"started"`
	// Scans counts verdicts since start, by verdict ("verified", "pending",
	// "invalid", "expired").
	Scans map[string]int64 `json:"scans"`
	// Queue is the on-device queue.
	Queue Queue `json:"queue"`
	// Uplink is the forwarding to central.
	Uplink Uplink `json:"uplink"`
	// Camera is the frame source of a camera device (zero on a device
	// whose codes come from a scan engine).
	Camera Camera `json:"camera,omitzero"`
	// Scanner is the scan engine of a device whose codes come from one
	// (stdin, serial, evdev); nil on a camera device.
	Scanner *Scanner `json:"scanner,omitempty"`
	// Clock is the device clock against central.
	Clock Clock `json:"clock"`
	// Storage describes a recording problem; empty Problem when fine.
	Storage Storage `json:"storage"`
	// Ledger is the paper ledger beside the scanner; nil when the device keeps none.
	Ledger *Ledger `json:"ledger,omitempty"`
}

// Queue describes the on-device queue.
type Queue struct {
	// Depth is the number of scans waiting for central.
	Depth int `json:"depth"`
	// OldestEnqueued is when the oldest waiting scan was recorded (zero when empty).
	OldestEnqueued time.Time `json:"oldest_enqueued"`
	// Dead counts scans central rejected permanently.
	Dead int `json:"dead"`
	// Max is the queue's capacity (0 when unknown).
	Max int `json:"max,omitempty"`
}

// OldestAge is how long the oldest waiting scan has waited at now.
func (q Queue) OldestAge(now time.Time) time.Duration {
	if q.Depth == 0 || q.OldestEnqueued.IsZero() || now.Before(q.OldestEnqueued) {
		return 0
	}
	return now.Sub(q.OldestEnqueued)
}

// Uplink describes the forwarding to central.
type Uplink struct {
	// LastUpload is when central last accepted a batch (zero: never since start).
	LastUpload time.Time `json:"last_upload"`
	// LastAttempt is when the agent last tried.
	LastAttempt time.Time `json:"last_attempt"`
	// Failing is true while the latest attempt failed.
	Failing bool `json:"failing"`
	// Errors counts failed attempts since start.
	Errors int64 `json:"errors"`
	// Acknowledged counts scans central acknowledged since start.
	Acknowledged int64 `json:"acknowledged"`
	// Refused is set while central answers but refuses this device (401 or
	// 403): it is not enrolled, or its credential was revoked.
	Refused *Refusal `json:"refused,omitempty"`
}

// Refusal is central's refusal of this device.
type Refusal struct {
	// Status is central's HTTP status (401 or 403).
	Status int `json:"status"`
	// Reason is central's API reason, e.g. "missing_credential".
	Reason string `json:"reason"`
	// Since is when the refusal was first seen.
	Since time.Time `json:"since"`
}

// Scanner describes a scan engine: a PDA's built-in engine, a serial or
// keyboard-wedge scanner, or lines on stdin.
type Scanner struct {
	// Source is the engine's spec, e.g. "serial:/dev/ttyACM0".
	Source string `json:"source"`
	// State is "open", "reopening", "disconnected" or "ended".
	State string `json:"state"`
	// Problem is a short description when the engine needs attention.
	Problem string `json:"problem,omitempty"`
	// LastCode is when the last code arrived.
	LastCode time.Time `json:"last_code"`
	// Codes counts codes read since start.
	Codes int64 `json:"codes"`
}

// ScannerStates are the scan engine state words the metrics always export.
var ScannerStates = []string{"starting", "open", "reopening", "disconnected", "ended"}

// Camera describes the frame source.
type Camera struct {
	// State is a short word: "ok", "starting", "no_frames", "failing",
	// "ended", or a word from the camera's own health report.
	State string `json:"state"`
	// Problem is a short description when the camera needs attention.
	Problem string `json:"problem,omitempty"`
	// LastFrame is when the last frame arrived.
	LastFrame time.Time `json:"last_frame"`
	// Frames counts frames since start.
	Frames int64 `json:"frames"`
	// Dropped counts frames the camera delivered that were never scanned
	// (a newer frame replaced them while the scanner was busy, or
	// low-power mode skipped them), since start.
	Dropped int64 `json:"dropped"`
}

// CameraStates are the camera state words the metrics always export.
var CameraStates = []string{"ok", "starting", "no_frames", "failing", "ended"}

// Clock describes the device clock against central.
type Clock struct {
	// Known is true once an offset to central has been learned.
	Known bool `json:"known"`
	// Offset is central's time minus the device's.
	Offset time.Duration `json:"offset"`
	// Problem is a short description when the clock needs attention.
	Problem string `json:"problem,omitempty"`
}

// Storage describes a recording problem.
type Storage struct {
	// Failures counts scans that could not be recorded since start.
	Failures int64 `json:"failures"`
	// Problem is a short description when recording is at risk.
	Problem string `json:"problem,omitempty"`
}

// Offline is how long scans may wait, or the uplink fail, before the page
// says "offline but recording".
const Offline = 5 * time.Minute

// State returns the state line: the worst condition that applies.
func (s Snapshot) State() State {
	switch {
	case s.Storage.Problem != "":
		return StorageProblem
	case s.Uplink.Refused != nil:
		return NotRegistered
	case s.Clock.Problem != "":
		return ClockProblem
	case s.Scanner != nil && s.Scanner.Problem != "":
		return ScannerProblem
	case s.Scanner == nil && s.Camera.Problem != "":
		return CameraProblem
	case s.Uplink.Failing || s.Queue.OldestAge(s.At) > Offline:
		return OfflineRecording
	}
	return Scanning
}
