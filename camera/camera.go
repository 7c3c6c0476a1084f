// Package camera provides the frames the agent scans: a gocv VideoCapture
// source for cameras, video files, image sequences and stream URLs (cgo
// builds), pure-Go sources for image folders and MJPEG over HTTP (every
// build), and the video writer the demo uses to make its sample clip.
//
// Every source yields grey frames (image.Gray), which is all the decoder
// needs. The daemon uses OpenLive, which reopens failed sources with
// backoff, watches for stalls, reports Health and drops to a low frame rate
// when nothing moves; Open gives the plain source.
//
// Privacy: frames are handed to the caller and never stored or sent by
// this package. The one exception is Live.Snapshot, a debug aid for
// setting up a camera on site, which writes a PNG only when
// Options.DebugSnapshotDir is set explicitly (it logs a warning at start
// when it is). Nothing else in the package writes frames; WriteVideo and
// WriteFolder write frames the caller generated (the demo's clip).
package camera

import (
	"context"
	"fmt"
	"image"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kipass/kipass/clock"
)

// Frame is one grey frame from a source.
type Frame struct {
	// Gray is the frame's luminance. It belongs to the caller: the source
	// never writes to it after Next has returned it.
	Gray *image.Gray
	// At is the capture time: the moment the backend handed the frame over,
	// read from Options.Clock.
	At time.Time
	// Seq counts frames read from the source, starting at 1. In
	// latest-frame-only mode a gap in Seq means frames were dropped because
	// the caller was busy.
	Seq uint64
}

// Source yields frames.
type Source interface {
	// Next blocks until a frame is available, ctx ends, or a finite source
	// ends (io.EOF). Errors wrapping ErrBadFrame leave the source usable.
	Next(ctx context.Context) (Frame, error)
	// Close releases the source. Next returns ErrClosed afterwards.
	Close() error
}

// Options tune how a source is opened. The zero value is usable: the
// backend's defaults, a 10 s open timeout, the real clock, slog.Default().
type Options struct {
	// Width and Height request a capture resolution from a device (0: the
	// driver's default).
	Width, Height int
	// FPS requests a device frame rate (0: the driver's default). For an
	// image folder, a positive FPS paces the frames; otherwise they come as
	// fast as they are read.
	FPS float64
	// WatchFolder makes a "folder:DIR" source watch its folder, as a daemon
	// expects: images that appear later are read in name order, each once,
	// and the source never ends; an empty folder is waiting, not a fault.
	// Without it the folder is read once and the source ends (the demo,
	// replays).
	WatchFolder bool
	// FourCC requests a device pixel format, e.g. "MJPG" for USB cameras
	// (which otherwise fall back to YUYV at a low frame rate).
	FourCC string
	// OpenTimeout bounds every open (some backends hang instead of failing).
	// Zero means 10 s.
	OpenTimeout time.Duration
	// LatestOnly keeps only the newest frame, so a slow caller never reads a
	// stale one. Live sources (devices, URLs, pipelines) always keep only
	// the latest frame; set it to force the same for files.
	LatestOnly bool
	// Clock stamps frames, paces sources and times backoff, watchdog and
	// low-power mode. Nil means clock.Real{}.
	Clock clock.Clock
	// Log receives the source's log lines. Nil means slog.Default().
	// Frames and decoded texts are never logged.
	Log *slog.Logger

	// Focus selects autofocus on, off at FocusDistance, or the driver's
	// default. Devices only.
	Focus FocusMode
	// FocusDistance is the fixed focus for FocusFixed, in the driver's units
	// for focus_absolute (UVC nominally millimetres, so 250 for a stand at
	// 25 cm; many cameras use an arbitrary 0–255 or 0–1023 scale, so
	// calibrate once per camera model).
	FocusDistance float64
	// RefocusSettle is how long autofocus stays on after Refocus under
	// FocusFixed before it is turned off again. Zero means 1.5 s.
	RefocusSettle time.Duration
	// Exposure is a hint for glare. Devices only.
	Exposure ExposureMode
	// ExposureValue is the manual exposure for ExposureGlare in V4L2
	// exposure_time_absolute units (100 µs). Zero means 50 (5 ms).
	ExposureValue float64

	// The fields below are used by OpenLive.

	// Watchdog is how long a live source may stay silent before it counts
	// as stalled and is reopened. Zero means 5 s.
	Watchdog time.Duration
	// BackoffMin and BackoffMax bound the delay between reopen attempts,
	// which doubles after each failure. Zero means 500 ms and 30 s.
	BackoffMin, BackoffMax time.Duration
	// AbsentAfter is the number of failed opens in a row after which the
	// health becomes Absent. Zero means 3. A device path that does not exist
	// is Absent at once.
	AbsentAfter int
	// OnHealth, if set, is called (on the reading goroutine) whenever the
	// health state changes.
	OnHealth func(Health)
	// IdleAfter is how long without motion and without a code (see
	// Live.NoteCode) before the source drops to LowFPS. Zero means 30 s; a
	// negative value keeps full rate always.
	IdleAfter time.Duration
	// LowFPS is the frame rate in low-power mode. Zero means 2.
	LowFPS float64
	// MotionThreshold is the mean absolute difference (0–255) between two
	// 32×24 thumbnails that counts as motion. Zero means 3.
	MotionThreshold float64
	// DebugSnapshotDir enables Live.Snapshot, which writes the latest frame
	// there as a PNG. It is for setting up a camera on site only: empty (the
	// default) means no frame is ever written anywhere.
	DebugSnapshotDir string

	warnOnce *onceSet // shared across reopens by OpenLive
}

func (o Options) withDefaults() Options {
	if o.OpenTimeout <= 0 {
		o.OpenTimeout = 10 * time.Second
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.RefocusSettle <= 0 {
		o.RefocusSettle = 1500 * time.Millisecond
	}
	if o.Watchdog <= 0 {
		o.Watchdog = 5 * time.Second
	}
	if o.BackoffMin <= 0 {
		o.BackoffMin = 500 * time.Millisecond
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 30 * time.Second
	}
	if o.BackoffMax < o.BackoffMin {
		o.BackoffMax = o.BackoffMin
	}
	if o.AbsentAfter <= 0 {
		o.AbsentAfter = 3
	}
	if o.IdleAfter == 0 {
		o.IdleAfter = 30 * time.Second
	}
	if o.LowFPS <= 0 {
		o.LowFPS = 2
	}
	if o.MotionThreshold <= 0 {
		o.MotionThreshold = 3
	}
	if o.warnOnce == nil {
		o.warnOnce = &onceSet{}
	}
	return o
}

// specKind tells which backend serves a spec.
type specKind int

const (
	kindDevice   specKind = iota // V4L2 device by index or path (gocv)
	kindFile                     // video file (gocv)
	kindSequence                 // image sequence pattern such as frame_%04d.png (gocv)
	kindURL                      // rtsp://, http://, https:// stream (gocv, FFMPEG backend)
	kindPipeline                 // "gst:" GStreamer pipeline (gocv)
	kindFolder                   // "folder:DIR" image folder (pure Go)
	kindMJPEG                    // "mjpeg+http://" MJPEG client (pure Go)
)

// parsedSpec is a spec split into its backend and target.
type parsedSpec struct {
	kind   specKind
	target string // path, URL, pipeline or folder
	index  int    // device index when target is ""
	raw    string // the spec as shown: its password redacted
}

// live reports whether the source is a live one (camera, stream) rather
// than a finite file.
func (p parsedSpec) live() bool {
	switch p.kind {
	case kindDevice, kindURL, kindPipeline, kindMJPEG:
		return true
	}
	return false
}

// gocv reports whether the spec needs OpenCV.
func (p parsedSpec) gocv() bool { return p.kind != kindFolder && p.kind != kindMJPEG }

// NeedsOpenCV reports whether a camera spec is read through OpenCV
// (devices, video files, image sequences, RTSP and HTTP streams, GStreamer
// pipelines) rather than in pure Go (image folders, MJPEG over HTTP). A
// spec that does not parse does not. Scan-engine specs are not camera
// specs: ask agent.Config.NeedsOpenCV for a device's source.
func NeedsOpenCV(spec string) bool {
	p, err := parseSpec(spec)
	return err == nil && p.gocv()
}

func parseSpec(spec string) (parsedSpec, error) {
	p := parsedSpec{raw: Redact(spec)} // raw is for logs and errors
	s := strings.TrimSpace(spec)
	lower := strings.ToLower(s)
	switch {
	case s == "":
		return p, fmt.Errorf("camera: empty spec: %w", ErrBadSpec)
	case strings.HasPrefix(lower, "folder:"):
		p.kind, p.target = kindFolder, s[len("folder:"):]
		if p.target == "" {
			return p, fmt.Errorf("camera: %q names no folder: %w", p.raw, ErrBadSpec)
		}
	case strings.HasPrefix(lower, "mjpeg+http://"), strings.HasPrefix(lower, "mjpeg+https://"):
		p.kind, p.target = kindMJPEG, s[len("mjpeg+"):]
	case strings.HasPrefix(lower, "gst:"):
		p.kind, p.target = kindPipeline, strings.TrimSpace(s[len("gst:"):])
		if p.target == "" {
			return p, fmt.Errorf("camera: %q names no pipeline: %w", p.raw, ErrBadSpec)
		}
	case strings.HasPrefix(lower, "rtsp://"), strings.HasPrefix(lower, "rtsps://"),
		strings.HasPrefix(lower, "http://"), strings.HasPrefix(lower, "https://"):
		p.kind, p.target = kindURL, s
	case isDigits(s):
		n, err := strconv.Atoi(s)
		if err != nil || n > 63 {
			return p, fmt.Errorf("camera: device index %q out of range: %w", s, ErrBadSpec)
		}
		p.kind, p.index = kindDevice, n
	case strings.HasPrefix(s, "/dev/"):
		p.kind, p.target = kindDevice, s
	case strings.Contains(s, "%"):
		p.kind, p.target = kindSequence, s
	default:
		p.kind, p.target = kindFile, s
	}
	return p, nil
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// checkExists gives a clear error for a path that does not exist, before
// any backend is asked (OpenCV only says "not opened").
func (p parsedSpec) checkExists() error {
	var path string
	switch p.kind {
	case kindFile, kindFolder:
		path = p.target
	case kindDevice:
		if p.target == "" {
			path = fmt.Sprintf("/dev/video%d", p.index)
		} else {
			path = p.target
		}
	case kindSequence:
		path = filepath.Dir(p.target)
	default:
		return nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("camera: open %q: %s does not exist: %w", p.raw, path, ErrNotFound)
	}
	if p.kind == kindFolder && !fi.IsDir() {
		return fmt.Errorf("camera: open %q: %s is not a folder: %w", p.raw, path, ErrBadSpec)
	}
	if p.kind == kindFile && fi.IsDir() {
		return fmt.Errorf("camera: open %q: %s is a folder (use folder:%s): %w", p.raw, path, path, ErrBadSpec)
	}
	return nil
}

// Open opens a source from a spec:
//
//   - "0" or "/dev/video0": a V4L2 camera (gocv), latest frame only;
//   - a video file path, e.g. "clip.avi" (gocv);
//   - an image-sequence pattern, e.g. "dir/frame_%04d.png" (gocv);
//   - an "rtsp://", "http://" or "https://" stream URL (gocv, FFMPEG backend);
//   - "gst:PIPELINE": a GStreamer pipeline ending in appsink (gocv);
//   - "folder:DIR": the images in DIR, sorted by name (pure Go);
//   - "mjpeg+http://...": a multipart MJPEG stream (pure Go).
//
// In a build without OpenCV, gocv specs return an error wrapping
// ErrNoOpenCV. A path that does not exist gives ErrNotFound; an open that
// does not finish within Options.OpenTimeout gives ErrOpenTimeout.
func Open(ctx context.Context, spec string, o Options) (Source, error) {
	o = o.withDefaults()
	p, err := parseSpec(spec)
	if err != nil {
		return nil, err
	}
	if err := p.checkExists(); err != nil {
		return nil, err
	}
	switch p.kind {
	case kindFolder:
		return openFolder(p.target, o)
	case kindMJPEG:
		return openMJPEG(ctx, p.target, o)
	}
	if !HaveOpenCV {
		return nil, fmt.Errorf("camera: open %q: %w", spec, ErrNoOpenCV)
	}
	return openCV(ctx, p, o)
}
