package status

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Source gives the page and the metrics the agent's current state.
type Source interface {
	// Snapshot returns the state now. It must be cheap and safe for
	// concurrent use.
	Snapshot() Snapshot
}

// Verdicts are the verdict labels the metrics always export.
var Verdicts = []string{"verified", "pending", "invalid", "expired"}

// DecodeBuckets are the decode latency histogram's upper bounds, seconds.
var DecodeBuckets = prometheus.ExponentialBuckets(0.001, 2, 12) // 1 ms … 2 s

// VoiceBuckets are the frame→voice latency histogram's upper bounds,
// seconds.
var VoiceBuckets = []float64{0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2}

// Metrics are the agent's Prometheus metrics, in a registry of their own.
// Counters and gauges are read from the Source at each scrape; the latency
// histograms are fed by ObserveDecode and ObserveVoice.
type Metrics struct {
	reg    *prometheus.Registry
	decode prometheus.Histogram
	voice  prometheus.Histogram
}

// NewMetrics returns the metrics of src, with the Go runtime and process
// collectors.
func NewMetrics(src Source) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		decode: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "kipass_decode_duration_seconds",
			Help:    "Time to look for a QR code in one camera frame.",
			Buckets: DecodeBuckets,
		}),
		voice: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "kipass_frame_to_voice_seconds",
			Help:    "Time from the capture of a code (the camera frame that held it, or a scan engine's read) to the start of the spoken verdict.",
			Buckets: VoiceBuckets,
		}),
	}
	m.reg.MustRegister(m.decode, m.voice, &snapshotCollector{src: src},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ObserveDecode records the time one frame took to decode.
func (m *Metrics) ObserveDecode(d time.Duration) { m.decode.Observe(d.Seconds()) }

// ObserveVoice records the time from a frame's capture to the start of
// the prompt it led to.
func (m *Metrics) ObserveVoice(d time.Duration) { m.voice.Observe(d.Seconds()) }

// Registry is the registry the metrics live in.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

var (
	descScans = prometheus.NewDesc("kipass_scans_total",
		"Verdicts given at the door since start, by verdict.", []string{"verdict"}, nil)
	descStoreFailures = prometheus.NewDesc("kipass_store_failures_total",
		"Scans that could not be recorded since start.", nil, nil)
	descQueueDepth = prometheus.NewDesc("kipass_queue_depth",
		"Scans waiting on the device for central.", nil, nil)
	descQueueOldest = prometheus.NewDesc("kipass_queue_oldest_unsent_seconds",
		"Age of the oldest scan waiting for central (0 when none waits).", nil, nil)
	descQueueDead = prometheus.NewDesc("kipass_queue_dead_letters",
		"Scans central rejected permanently, kept aside.", nil, nil)
	descUplinkErrors = prometheus.NewDesc("kipass_uplink_errors_total",
		"Failed attempts to send scans to central since start.", nil, nil)
	descUplinkAcked = prometheus.NewDesc("kipass_uplink_acknowledged_total",
		"Scans central acknowledged since start.", nil, nil)
	descLastUpload = prometheus.NewDesc("kipass_uplink_last_upload_timestamp_seconds",
		"When central last accepted a batch, Unix time (0: never since start).", nil, nil)
	descCamera = prometheus.NewDesc("kipass_camera_state",
		"The camera's state: 1 for the current state, 0 for the others.", []string{"state"}, nil)
	descFrames = prometheus.NewDesc("kipass_camera_frames_total",
		"Frames read from the camera since start.", nil, nil)
	descDropped = prometheus.NewDesc("kipass_camera_frames_dropped_total",
		"Frames the camera delivered that were never scanned (replaced by a newer frame while the scanner was busy, or skipped in low-power mode) since start.", nil, nil)
	descScanner = prometheus.NewDesc("kipass_scanner_state",
		"The scan engine's state (devices whose codes come from a scan engine): 1 for the current state, 0 for the others.",
		[]string{"state"}, nil)
	descCodes = prometheus.NewDesc("kipass_scanner_codes_total",
		"Codes read from the scan engine since start.", nil, nil)
	descClockOffset = prometheus.NewDesc("kipass_clock_offset_seconds",
		"Central's time minus the device's, once learned.", nil, nil)
	descState = prometheus.NewDesc("kipass_state",
		"The status page's state line: 1 for the current state, 0 for the others.", []string{"state"}, nil)
	descSheetsOpen = prometheus.NewDesc("kipass_ledger_sheets_open",
		"Paper ledger sheets not yet confirmed shredded (devices that keep a paper ledger).", nil, nil)
	descSheetsDue = prometheus.NewDesc("kipass_ledger_sheets_due",
		"Open paper ledger sheets whose shredding date (4 weeks after their last entry) is today or past.", nil, nil)
	descPaperVisits = prometheus.NewDesc("kipass_ledger_paper_visits",
		"Paper visits on the sheets not yet shredded.", nil, nil)
	descInfo = prometheus.NewDesc("kipass_agent_info",
		"The door this agent serves.", []string{"facility", "device", "entrance"}, nil)
)

// snapshotCollector exports one Snapshot per scrape.
type snapshotCollector struct{ src Source }

// Describe sends the descriptions of every metric the snapshot gives.
func (c *snapshotCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descScans, descStoreFailures, descQueueDepth, descQueueOldest, descQueueDead,
		descUplinkErrors, descUplinkAcked, descLastUpload, descCamera, descFrames, descDropped, descScanner, descCodes, descClockOffset,
		descState, descSheetsOpen, descSheetsDue, descPaperVisits, descInfo} {
		ch <- d
	}
}

// Collect takes one snapshot and sends its metrics.
func (c *snapshotCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.src.Snapshot()
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, v := range Verdicts {
		counter(descScans, float64(s.Scans[v]), v)
	}
	counter(descStoreFailures, float64(s.Storage.Failures))
	gauge(descQueueDepth, float64(s.Queue.Depth))
	gauge(descQueueOldest, s.Queue.OldestAge(s.At).Seconds())
	gauge(descQueueDead, float64(s.Queue.Dead))
	counter(descUplinkErrors, float64(s.Uplink.Errors))
	counter(descUplinkAcked, float64(s.Uplink.Acknowledged))
	last := 0.0
	if !s.Uplink.LastUpload.IsZero() {
		last = float64(s.Uplink.LastUpload.UnixMilli()) / 1000
	}
	gauge(descLastUpload, last)
	// A device exports the state of its own source only: a scan-engine
	// device has no camera.
	if s.Scanner != nil {
		states := ScannerStates
		if !contains(states, s.Scanner.State) && s.Scanner.State != "" {
			states = append(append([]string(nil), states...), s.Scanner.State)
		}
		for _, st := range states {
			gauge(descScanner, b2f(st == s.Scanner.State), st)
		}
		counter(descCodes, float64(s.Scanner.Codes))
	} else {
		states := CameraStates
		if !contains(states, s.Camera.State) && s.Camera.State != "" {
			states = append(append([]string(nil), states...), s.Camera.State)
		}
		for _, st := range states {
			gauge(descCamera, b2f(st == s.Camera.State), st)
		}
		counter(descFrames, float64(s.Camera.Frames))
		counter(descDropped, float64(s.Camera.Dropped))
	}
	if s.Clock.Known {
		gauge(descClockOffset, s.Clock.Offset.Seconds())
	}
	cur := s.State()
	for _, st := range States {
		gauge(descState, b2f(st == cur), string(st))
	}
	if s.Ledger != nil {
		open, visits := 0, 0
		for _, sh := range s.Ledger.Sheets {
			if sh.Open() {
				open++
				visits += sh.Entries
			}
		}
		gauge(descSheetsOpen, float64(open))
		gauge(descSheetsDue, float64(s.Ledger.Due))
		gauge(descPaperVisits, float64(visits))
	}
	gauge(descInfo, 1, s.Facility, s.Device, s.Entrance)
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
